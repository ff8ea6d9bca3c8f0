CREATE TABLE events (tenant varchar(20) NOT NULL, at date NOT NULL, body text) PARTITION BY LIST (tenant);
CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');
CREATE TABLE events_b PARTITION OF events FOR VALUES IN ('b');
CREATE INDEX events_tenant_at ON events (tenant, at);
