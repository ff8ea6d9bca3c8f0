-- Found by the fuzzer (seed 80432): two indexes of a partitioned table on lower(...) give each
-- partition two indexes whose generated names differ only by a number, handed out in the order
-- the indexes are created; a script that creates them in the other order must swap the names.
CREATE TABLE t0 (id bigint NOT NULL, c0 text NOT NULL DEFAULT 'x', c1 varchar(10) NOT NULL,
  CONSTRAINT t0_pkey PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE t0_p0 PARTITION OF t0 FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE t0_p1 PARTITION OF t0 FOR VALUES FROM (1000) TO (MAXVALUE);
