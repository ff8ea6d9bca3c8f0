CREATE TABLE t (id bigint, v varchar(50));
