CREATE TABLE t (id int, owner text, secret text); ALTER TABLE t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON t USING (owner = current_user); CREATE VIEW v AS SELECT id, secret FROM t;
