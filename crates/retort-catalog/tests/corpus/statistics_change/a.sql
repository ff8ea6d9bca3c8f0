CREATE TABLE t (a int, b int, c int); CREATE STATISTICS t_ab ON a, b FROM t;
