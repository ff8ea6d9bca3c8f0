CREATE TABLE t (id int, flag boolean);
