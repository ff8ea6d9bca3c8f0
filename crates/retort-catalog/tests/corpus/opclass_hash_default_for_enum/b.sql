-- A DEFAULT hash class for one enum type, in its own schema, with a SQL hash function: the
-- index that chose the class by default moves to it.
CREATE SCHEMA ops;
CREATE TYPE colour AS ENUM ('red', 'green', 'blue');
CREATE FUNCTION ops.colour_hash(colour) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT hashtext($1::text) $$;
CREATE OPERATOR CLASS ops.colour_hash_ops DEFAULT FOR TYPE colour USING hash AS
    OPERATOR 1 = (anyenum, anyenum), FUNCTION 1 ops.colour_hash(colour);
CREATE TABLE paint (c colour);
CREATE INDEX paint_c ON paint USING hash (c);
