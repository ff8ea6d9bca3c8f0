CREATE TABLE t (x int, id serial);
