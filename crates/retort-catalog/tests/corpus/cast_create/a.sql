CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (x integer, y integer);
CREATE FUNCTION mood_rank(mood) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT array_position(enum_range(NULL::mood), $1) $$;
CREATE FUNCTION pair_text(pair) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1.x || ',' || $1.y $$;
