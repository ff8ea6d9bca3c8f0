CREATE EXTENSION pg_trgm;CREATE TABLE t (id int PRIMARY KEY, name text);
