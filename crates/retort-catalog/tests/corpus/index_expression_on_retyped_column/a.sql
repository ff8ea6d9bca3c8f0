CREATE TABLE t (v text); CREATE INDEX t_l ON t (lower(v));
