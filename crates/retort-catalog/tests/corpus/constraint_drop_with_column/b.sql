CREATE TABLE t (w int);
