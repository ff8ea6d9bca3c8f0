CREATE TABLE t (v text); CREATE INDEX t_v ON t (v);
