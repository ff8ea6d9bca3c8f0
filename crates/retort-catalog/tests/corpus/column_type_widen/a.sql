CREATE TABLE t (id int, v varchar(10));
