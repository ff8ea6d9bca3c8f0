CREATE TABLE events (id bigint PRIMARY KEY, kind text, tenant int, body text, source text);
ALTER TABLE events ALTER COLUMN kind SET (n_distinct = 20);
ALTER TABLE events ALTER COLUMN tenant SET (n_distinct_inherited = -0.1);
ALTER TABLE events ALTER COLUMN source SET (n_distinct = 3);
CREATE TABLE fresh (id int, k text);
ALTER TABLE fresh ALTER COLUMN k SET (n_distinct = 5);
