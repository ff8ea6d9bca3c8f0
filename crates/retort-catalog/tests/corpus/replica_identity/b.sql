CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb);
ALTER TABLE events REPLICA IDENTITY FULL;
CREATE TABLE audit (id bigint, what text);
ALTER TABLE audit REPLICA IDENTITY NOTHING;
CREATE TABLE snapshots (id int, body text);
ALTER TABLE snapshots REPLICA IDENTITY FULL;
