CREATE TABLE events (tenant text NOT NULL, at date NOT NULL, label varchar(20), body text) PARTITION BY LIST (tenant);
CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');
CREATE TABLE events_b PARTITION OF events FOR VALUES IN ('b');
CREATE INDEX events_label ON events (label);
