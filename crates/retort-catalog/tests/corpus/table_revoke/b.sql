CREATE TABLE t (id int PRIMARY KEY, name text); GRANT SELECT ON t TO app_user;
