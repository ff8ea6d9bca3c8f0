CREATE FUNCTION near(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs($1 - $2) < 3 $$;
CREATE FUNCTION far(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs($1 - $2) > 10 $$;
-- Estimators and comment change in place; the other one's function changes (dropped, created).
CREATE OPERATOR ~~~ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = near, RESTRICT = scalarltsel,
    JOIN = scalarltjoinsel);
COMMENT ON OPERATOR ~~~ (integer, integer) IS 'close enough';
CREATE OPERATOR <-> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = far);
