CREATE TABLE events (id bigint PRIMARY KEY, kind text);
CREATE PUBLICATION events_pub FOR TABLE events (id, kind);
