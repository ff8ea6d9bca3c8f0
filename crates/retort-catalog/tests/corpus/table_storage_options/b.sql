CREATE TABLE t (id int PRIMARY KEY, name text) WITH (fillfactor = 70);
