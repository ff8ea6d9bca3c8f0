CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
-- The cast moves to another function (the old one goes) and becomes implicit; the other one
-- keeps its method and changes its comment only.
CREATE FUNCTION mood_score(mood) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT 10 * array_position(enum_range(NULL::mood), $1) $$;
CREATE CAST (mood AS integer) WITH FUNCTION mood_score(mood) AS IMPLICIT;
CREATE CAST (mood AS varchar) WITH INOUT;
COMMENT ON CAST (mood AS varchar) IS 'new words';
