CREATE TABLE t (a int, ts timestamptz); CREATE UNIQUE INDEX t_a ON t (a) NULLS NOT DISTINCT; CREATE INDEX t_ts ON t USING brin (ts) WITH (pages_per_range = 32);
