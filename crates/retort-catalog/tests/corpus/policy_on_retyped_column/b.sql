CREATE TABLE t (id int, owner varchar(63)); CREATE POLICY p ON t USING (owner = current_user);
