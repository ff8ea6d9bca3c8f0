CREATE TABLE t (id int); CREATE TABLE history (snap t);
