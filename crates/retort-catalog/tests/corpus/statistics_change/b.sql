CREATE TABLE t (a int, b int, c int); CREATE STATISTICS t_ab (mcv) ON a, b, c FROM t;
