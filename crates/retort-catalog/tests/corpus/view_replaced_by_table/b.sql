CREATE TABLE t (id int PRIMARY KEY, name text); CREATE TABLE v (id int);
