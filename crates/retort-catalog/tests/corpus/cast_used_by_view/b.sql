CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE FUNCTION mood_weight(mood) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT 100 - array_position(enum_range(NULL::mood), $1) $$;
CREATE CAST (mood AS integer) WITH FUNCTION mood_weight(mood);
CREATE TABLE feelings (id integer PRIMARY KEY, m mood NOT NULL);
CREATE VIEW feeling_ranks AS SELECT id, m::integer AS rank FROM feelings;
