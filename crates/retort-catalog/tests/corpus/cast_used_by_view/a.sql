CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE FUNCTION mood_rank(mood) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT array_position(enum_range(NULL::mood), $1) $$;
CREATE CAST (mood AS integer) WITH FUNCTION mood_rank(mood);
CREATE TABLE feelings (id integer PRIMARY KEY, m mood NOT NULL);
-- The view's cast is stored as a call of the cast's function.
CREATE VIEW feeling_ranks AS SELECT id, m::integer AS rank FROM feelings;
