CREATE TABLE points (x integer NOT NULL, y integer NOT NULL);
-- A domain over the table's row type, used by a function.
CREATE DOMAIN point_row AS points CHECK ((VALUE).x IS NOT NULL);
CREATE FUNCTION point_sum(p point_row) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT (p).x + (p).y $$;
-- A function taking and one returning a view's row type.
CREATE VIEW named_points AS SELECT x, y, 'p'::text AS label FROM points;
CREATE FUNCTION label_of(n named_points) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT (n).label $$;
CREATE FUNCTION first_named() RETURNS named_points LANGUAGE sql STABLE AS $$ SELECT * FROM named_points LIMIT 1 $$;
