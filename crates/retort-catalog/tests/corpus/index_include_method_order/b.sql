CREATE TABLE t (id int PRIMARY KEY, name text); CREATE INDEX t_idx ON t USING btree (name DESC NULLS LAST, id) INCLUDE (id); CREATE INDEX t_hash ON t USING hash (name);
