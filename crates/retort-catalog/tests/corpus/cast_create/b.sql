CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (x integer, y integer);
CREATE FUNCTION mood_rank(mood) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT array_position(enum_range(NULL::mood), $1) $$;
CREATE FUNCTION pair_text(pair) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1.x || ',' || $1.y $$;
-- Every method and context CREATE CAST has.
CREATE CAST (mood AS integer) WITH FUNCTION mood_rank(mood) AS ASSIGNMENT;
CREATE CAST (pair AS text) WITH FUNCTION pair_text(pair) AS IMPLICIT;
CREATE CAST (mood AS varchar) WITH INOUT;
-- Binary coercible, and between two built-in types (a superuser's cast).
CREATE CAST (text AS bytea) WITHOUT FUNCTION;
COMMENT ON CAST (mood AS varchar) IS 'the label, as written';
