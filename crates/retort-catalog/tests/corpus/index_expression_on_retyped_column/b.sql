CREATE TABLE t (v varchar(100)); CREATE INDEX t_l ON t (lower(v));
