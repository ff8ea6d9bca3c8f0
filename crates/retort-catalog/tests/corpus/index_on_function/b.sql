CREATE FUNCTION norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower($1)';CREATE TABLE t (id int PRIMARY KEY, name text); CREATE INDEX t_norm ON t (norm(name));
