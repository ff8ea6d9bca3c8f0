CREATE TABLE t (v text COLLATE "C"); CREATE INDEX t_v ON t (v);
