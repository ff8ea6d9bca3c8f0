CREATE TABLE t (id int PRIMARY KEY, name text); CREATE INDEX t_pattern ON t (name text_pattern_ops); CREATE INDEX t_c ON t (name COLLATE "C");
