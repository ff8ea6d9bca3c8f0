CREATE TYPE state1 AS ENUM ('new', 'open');
CREATE TABLE t1 (id bigint NOT NULL, c0 integer NOT NULL, CONSTRAINT t1_pkey PRIMARY KEY (id));
CREATE TABLE t2 (id bigint PRIMARY KEY, s state1 NOT NULL DEFAULT 'new');
