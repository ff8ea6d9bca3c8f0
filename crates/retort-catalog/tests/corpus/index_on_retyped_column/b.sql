CREATE TABLE t (v bigint); CREATE INDEX t_v ON t (v);
