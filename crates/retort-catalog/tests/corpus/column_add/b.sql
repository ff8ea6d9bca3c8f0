CREATE TABLE t (id int PRIMARY KEY, name text, age int NOT NULL DEFAULT 0);
