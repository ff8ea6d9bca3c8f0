CREATE TABLE t (a int, b int); CREATE VIEW v AS SELECT a AS first, b AS second FROM t;
