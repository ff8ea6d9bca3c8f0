-- Found by the fuzzer (seed 10): date has no cast to an enum (or to integer); the conversion
-- goes through text.
CREATE TYPE state0 AS ENUM ('new', 'open');
CREATE TABLE t2 (id bigint NOT NULL, c0 state0 NOT NULL, c1 date DEFAULT '2024-01-01', c2 date, c3 boolean, CONSTRAINT t2_pkey PRIMARY KEY (id));
