CREATE TABLE t (a int, b int); CREATE STATISTICS t_ab ON a, b FROM t;
