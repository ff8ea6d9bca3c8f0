CREATE TYPE state AS ENUM ('new', 'open', 'gone');
CREATE FUNCTION state_label(state) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT format('%s', $1) $$;
CREATE CAST (state AS text) WITH FUNCTION state_label(state);
CREATE TABLE tickets (id bigint PRIMARY KEY, s state NOT NULL DEFAULT 'new');
