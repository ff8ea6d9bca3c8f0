CREATE TABLE t (name text, CONSTRAINT t_name_key UNIQUE (name));
