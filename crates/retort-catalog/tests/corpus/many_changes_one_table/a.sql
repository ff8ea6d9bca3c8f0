CREATE TABLE t (a int, b text, c int DEFAULT 1, d int);
