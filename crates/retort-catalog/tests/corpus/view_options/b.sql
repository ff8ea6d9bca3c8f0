CREATE TABLE t (id int PRIMARY KEY, name text); CREATE VIEW v WITH (security_barrier = true) AS SELECT id FROM t WHERE id > 0 WITH CASCADED CHECK OPTION;
