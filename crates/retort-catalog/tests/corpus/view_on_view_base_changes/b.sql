CREATE TABLE t (id int PRIMARY KEY, name text); CREATE VIEW v1 AS SELECT id, upper(name) AS name FROM t; CREATE VIEW v2 AS SELECT name FROM v1;
