CREATE TABLE t (id int PRIMARY KEY, name text); GRANT ALL ON t TO app_user;
