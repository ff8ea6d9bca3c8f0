CREATE EXTENSION pg_trgm;CREATE TABLE t (id int PRIMARY KEY, name text); CREATE INDEX t_trgm ON t USING gin (name gin_trgm_ops);
