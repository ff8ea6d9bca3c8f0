CREATE TABLE events (id bigint PRIMARY KEY, code text NOT NULL, at timestamptz NOT NULL);
CREATE UNIQUE INDEX events_code ON events (code);
CREATE INDEX events_at ON events (at);
