CREATE TABLE t (id int PRIMARY KEY, name text); COMMENT ON TABLE t IS 'it''s \ “quoted” — ünïcödé';
