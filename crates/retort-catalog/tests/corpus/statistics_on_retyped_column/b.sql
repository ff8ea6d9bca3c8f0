CREATE TABLE t (a bigint, b int); CREATE STATISTICS t_ab ON a, b FROM t;
