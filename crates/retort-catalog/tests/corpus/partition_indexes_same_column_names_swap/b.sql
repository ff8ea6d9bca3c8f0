-- Two indexes of the parent on the same column: their partitions' indexes share a generated
-- name, and which one ends up with the number depends on the order they were created. Created
-- the other way round here, an index the script keeps must move to the other name while the
-- new one takes its old one (found by the fuzzer, seed 2194).
CREATE TABLE t (id integer, c integer) PARTITION BY RANGE (id);
CREATE TABLE t_p0 PARTITION OF t FOR VALUES FROM (MINVALUE) TO (1000);
CREATE INDEX t_c_first ON t (c);
CREATE INDEX t_c_second ON t (c DESC);
