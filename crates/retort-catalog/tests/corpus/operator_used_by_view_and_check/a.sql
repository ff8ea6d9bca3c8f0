CREATE FUNCTION near(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs($1 - $2) < 3 $$;
CREATE OPERATOR ~~~ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = near);
CREATE TABLE readings (id integer PRIMARY KEY, expected integer, actual integer,
    CONSTRAINT plausible CHECK (expected ~~~ actual));
CREATE VIEW close_readings AS SELECT id FROM readings WHERE expected ~~~ actual;
