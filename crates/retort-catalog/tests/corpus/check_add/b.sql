CREATE TABLE t (id int PRIMARY KEY CHECK (id > 0), name text);
