CREATE TABLE t (v numeric CHECK (v > 0));
