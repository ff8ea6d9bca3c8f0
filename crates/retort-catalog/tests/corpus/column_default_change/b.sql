CREATE TABLE t (v int DEFAULT 2, w text DEFAULT 'x');
