CREATE TYPE st AS ENUM ('a', 'b', 'gone'); CREATE TABLE t1 (s st DEFAULT 'a'); CREATE TABLE t2 (s st[]); CREATE VIEW v AS SELECT t1.s FROM t1 JOIN t2 ON t1.s = ANY (t2.s);
