CREATE TABLE t (id int, score int);
