CREATE TABLE t (id int PRIMARY KEY, name text); COMMENT ON COLUMN t.name IS 'what it is called';
