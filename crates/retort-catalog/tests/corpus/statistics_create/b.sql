CREATE TABLE t (a int, b int, c int); CREATE STATISTICS t_ab (dependencies, ndistinct) ON a, b FROM t; COMMENT ON STATISTICS t_ab IS 'correlated';
