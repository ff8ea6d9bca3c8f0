CREATE TABLE t (a int, b text); CREATE FUNCTION f(x t) RETURNS int LANGUAGE sql AS 'SELECT x.a';
