CREATE TABLE t (id int PRIMARY KEY, name text); CREATE INDEX t_i ON t (name, id);
