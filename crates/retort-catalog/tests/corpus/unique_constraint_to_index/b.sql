CREATE TABLE t (name text); CREATE UNIQUE INDEX t_name_key ON t (name);
