CREATE TABLE t (v int CHECK (v >= 0));
