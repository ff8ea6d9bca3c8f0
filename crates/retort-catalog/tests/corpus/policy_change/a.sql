CREATE TABLE t (id int PRIMARY KEY, name text); CREATE POLICY p ON t USING (id > 0);
