CREATE TABLE t (a int, b int); CREATE VIEW tv AS SELECT a, b FROM t;
