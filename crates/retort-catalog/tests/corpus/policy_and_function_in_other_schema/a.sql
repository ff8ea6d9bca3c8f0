CREATE SCHEMA auth; CREATE FUNCTION auth.uid() RETURNS text LANGUAGE sql STABLE AS 'SELECT current_user::text'; CREATE TABLE notes (owner text);
