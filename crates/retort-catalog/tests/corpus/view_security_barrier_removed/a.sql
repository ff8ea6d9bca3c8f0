CREATE TABLE t (id int); CREATE VIEW v WITH (security_barrier) AS SELECT id FROM t;
