-- Found by the fuzzer (seeds 50024, 50043): the partition exists when the parent's statistics
-- target is set, so it has it too; a partition created after it would not.
CREATE TABLE t3 (id bigint NOT NULL, c0 text, c1 int, CONSTRAINT t3_pkey PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE t3_p1 PARTITION OF t3 FOR VALUES FROM (1000) TO (MAXVALUE);
ALTER TABLE t3 ALTER COLUMN c0 SET STATISTICS 0;
ALTER TABLE t3 ALTER COLUMN c1 SET (n_distinct = 10);
CREATE TABLE t3_p0 PARTITION OF t3 FOR VALUES FROM (MINVALUE) TO (1000);
