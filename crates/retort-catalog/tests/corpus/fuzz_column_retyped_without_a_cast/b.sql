CREATE TYPE state0 AS ENUM ('new', 'open', 'added15');
CREATE TABLE t2 (id bigint NOT NULL, c0 state0 NOT NULL, c1 state0, c2 integer, c3 integer, CONSTRAINT t2_pkey PRIMARY KEY (id));
