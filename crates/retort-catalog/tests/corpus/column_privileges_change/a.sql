CREATE TABLE t (id int, secret text); GRANT SELECT (id, secret) ON t TO app_user;
