CREATE TABLE t (v int DEFAULT 1, w text);
