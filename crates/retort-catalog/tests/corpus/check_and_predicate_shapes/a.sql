-- CHECK constraints and partial-index predicates of many shapes: retort writes the common ones
-- itself (columns, constants, casts, AND/OR/NOT, IS NULL) and leaves the rest to the server;
-- debug builds check every one it writes against pg_get_constraintdef / pg_get_indexdef.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s fine');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE shapes (
  id int PRIMARY KEY,
  "Weird Name" text,
  code varchar(10),
  fixed char(3),
  small smallint,
  big bigint,
  ratio numeric(6,2),
  flag boolean,
  m mood,
  p posint,
  CONSTRAINT neg CHECK (small > -5),
  CONSTRAINT big_enough CHECK (big >= 10000000000),
  CONSTRAINT quoted CHECK ("Weird Name" <> 'it''s \ here'),
  CONSTRAINT code_form CHECK (code IS NULL OR code <> ''),
  CONSTRAINT nested CHECK ((small > 0 AND big > 0) OR NOT flag),
  CONSTRAINT moody CHECK (m <> 'it''s fine'),
  CONSTRAINT num CHECK (ratio > 0.5),
  CONSTRAINT num_int CHECK (ratio >= 0),
  CONSTRAINT fn CHECK (length("Weird Name") < 100),
  CONSTRAINT dom CHECK (p < 1000),
  CONSTRAINT fixed_form CHECK (fixed <> 'xyz'),
  CONSTRAINT nulls CHECK (flag IS NOT NULL) NOT VALID,
  CONSTRAINT lonely CHECK (id <> 0) NO INHERIT
);
CREATE INDEX shapes_partial_enum ON shapes (id) WHERE m <> 'sad';
CREATE INDEX shapes_partial_text ON shapes (code) WHERE code IS NOT NULL AND "Weird Name" <> 'x';
CREATE INDEX shapes_partial_bool ON shapes (id) WHERE flag;
CREATE INDEX shapes_partial_fn ON shapes (id) WHERE lower(code) <> 'q';
