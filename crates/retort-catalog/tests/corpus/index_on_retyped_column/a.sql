CREATE TABLE t (v int); CREATE INDEX t_v ON t (v);
