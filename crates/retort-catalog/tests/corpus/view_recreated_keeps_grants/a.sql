CREATE TABLE t (id int PRIMARY KEY, name text); CREATE VIEW v AS SELECT id FROM t; GRANT SELECT ON v TO app_reader;
