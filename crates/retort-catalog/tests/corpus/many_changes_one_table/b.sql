CREATE TABLE t (a bigint NOT NULL, b text COLLATE "C", c int, e int DEFAULT 5, CONSTRAINT t_pk PRIMARY KEY (a)); CREATE INDEX t_b ON t (b);
