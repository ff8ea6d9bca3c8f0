CREATE FUNCTION near(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs($1 - $2) < 3 $$;
CREATE FUNCTION far(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs($1 - $2) > 10 $$;
CREATE OPERATOR ~~~ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = near, RESTRICT = eqsel);
CREATE OPERATOR <-> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = near);
