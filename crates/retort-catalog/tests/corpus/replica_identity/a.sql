CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb);
CREATE TABLE audit (id bigint, what text);
ALTER TABLE audit REPLICA IDENTITY FULL;
