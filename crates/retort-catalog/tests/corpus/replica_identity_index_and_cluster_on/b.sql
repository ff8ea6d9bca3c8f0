CREATE TABLE events (id bigint PRIMARY KEY, code text NOT NULL, at timestamptz NOT NULL);
CREATE UNIQUE INDEX events_code ON events (code);
CREATE INDEX events_at ON events (at);
ALTER TABLE events REPLICA IDENTITY USING INDEX events_code;
ALTER TABLE events CLUSTER ON events_at;
CREATE TABLE fresh (id int NOT NULL, k text NOT NULL, CONSTRAINT fresh_k_key UNIQUE (k));
CREATE INDEX fresh_id ON fresh (id);
ALTER TABLE fresh REPLICA IDENTITY USING INDEX fresh_k_key;
ALTER TABLE fresh CLUSTER ON fresh_id;
