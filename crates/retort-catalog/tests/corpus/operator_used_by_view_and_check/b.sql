-- The operator's function changes: it is dropped and created, and the check and the view
-- that use it are re-created around it.
CREATE FUNCTION roughly(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs($1 - $2) < 5 $$;
CREATE OPERATOR ~~~ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = roughly);
CREATE TABLE readings (id integer PRIMARY KEY, expected integer, actual integer,
    CONSTRAINT plausible CHECK (expected ~~~ actual));
CREATE VIEW close_readings AS SELECT id FROM readings WHERE expected ~~~ actual;
