-- Found by the fuzzer (seed 135): a value leaves an enum while the only column of that type is
-- dropped; the old type can go only after the column has.
CREATE TYPE state1 AS ENUM ('new', 'open', 'added42');
CREATE TABLE t1 (id bigint NOT NULL, c0 integer NOT NULL, n462 state1, CONSTRAINT t1_pkey PRIMARY KEY (id));
CREATE TABLE t2 (id bigint PRIMARY KEY, s state1 NOT NULL DEFAULT 'new');
