CREATE TABLE t (id int PRIMARY KEY, name text); CREATE UNIQUE INDEX t_name_live ON t (lower(name)) WHERE id > 0;
