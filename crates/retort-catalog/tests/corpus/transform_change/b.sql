-- A TO SQL function added: CREATE OR REPLACE TRANSFORM in place (and, the other way, a
-- function taken away: dropped and created).
CREATE FUNCTION int_from_sql(internal) RETURNS internal LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE FUNCTION int_to_sql(internal) RETURNS integer LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE TRANSFORM FOR integer LANGUAGE plpgsql (
    FROM SQL WITH FUNCTION int_from_sql(internal), TO SQL WITH FUNCTION int_to_sql(internal));
COMMENT ON TRANSFORM FOR integer LANGUAGE plpgsql IS 'both ways';
