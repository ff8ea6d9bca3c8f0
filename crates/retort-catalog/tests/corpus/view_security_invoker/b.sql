CREATE TABLE t (id int PRIMARY KEY, name text); CREATE VIEW v WITH (security_invoker = true) AS SELECT id FROM t;
