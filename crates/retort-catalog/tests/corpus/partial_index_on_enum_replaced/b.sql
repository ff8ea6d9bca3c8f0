CREATE TYPE mood AS ENUM ('c', 'b', 'a'); CREATE TABLE t (m mood, v int); CREATE INDEX t_b ON t (v) WHERE m = 'b';
