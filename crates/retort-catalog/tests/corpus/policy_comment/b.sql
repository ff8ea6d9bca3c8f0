CREATE TABLE t (id int PRIMARY KEY, name text); CREATE POLICY p ON t USING (true); COMMENT ON POLICY p ON t IS 'everyone';
