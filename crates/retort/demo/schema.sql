-- The schema the application wants next: what `retort new --autogenerate` would diff against.
CREATE TABLE users (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL UNIQUE,
    email text
);
CREATE INDEX users_email ON users (lower(email));
CREATE TABLE greeting (
    id   int PRIMARY KEY,
    said text NOT NULL CHECK (said <> '')
);
CREATE FUNCTION greet(who text) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN 'speak, ' || who || ', and enter';
CREATE VIEW greetings AS SELECT id, said FROM greeting;
