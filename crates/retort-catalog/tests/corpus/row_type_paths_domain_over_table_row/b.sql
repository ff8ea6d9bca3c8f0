-- The table gains a column (its row type changes under the domain), the view changes shape
-- (its functions are re-created around it), and the domain's check changes.
CREATE TABLE points (x integer NOT NULL, y integer NOT NULL, z integer);
CREATE DOMAIN point_row AS points CHECK ((VALUE).x IS NOT NULL AND (VALUE).y IS NOT NULL);
CREATE FUNCTION point_sum(p point_row) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT (p).x + (p).y $$;
CREATE VIEW named_points AS SELECT x, y, z, 'p'::text AS label FROM points;
CREATE FUNCTION label_of(n named_points) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT (n).label $$;
CREATE FUNCTION first_named() RETURNS named_points LANGUAGE sql STABLE AS $$ SELECT * FROM named_points LIMIT 1 $$;
