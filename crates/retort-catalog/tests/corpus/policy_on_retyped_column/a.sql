CREATE TABLE t (id int, owner text); CREATE POLICY p ON t USING (owner = current_user);
