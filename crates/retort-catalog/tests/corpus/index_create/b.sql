CREATE TABLE t (id int PRIMARY KEY, name text); CREATE INDEX t_name ON t (name);
