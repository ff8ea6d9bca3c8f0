CREATE TABLE t (id int PRIMARY KEY, name text); CREATE POLICY p ON t AS RESTRICTIVE FOR UPDATE TO app_user, app_reader USING (id > 1) WITH CHECK (id > 2);
