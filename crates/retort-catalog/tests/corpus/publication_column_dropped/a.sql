CREATE TABLE events (id bigint PRIMARY KEY, kind text, payload jsonb);
CREATE PUBLICATION events_pub FOR TABLE events (id, kind, payload);
