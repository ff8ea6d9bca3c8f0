CREATE TYPE e AS ENUM ('a', 'b', 'c'); CREATE TABLE t (x e); CREATE VIEW v AS SELECT x FROM t WHERE x <> 'a';
