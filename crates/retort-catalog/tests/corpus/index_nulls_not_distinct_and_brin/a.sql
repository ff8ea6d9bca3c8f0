CREATE TABLE t (a int, ts timestamptz);
