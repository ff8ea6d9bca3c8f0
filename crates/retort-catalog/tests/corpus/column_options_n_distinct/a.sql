CREATE TABLE events (id bigint PRIMARY KEY, kind text, tenant int, body text);
ALTER TABLE events ALTER COLUMN kind SET (n_distinct = 12);
ALTER TABLE events ALTER COLUMN tenant SET (n_distinct = -0.05, n_distinct_inherited = -0.1);
