CREATE TABLE t (id int, secret text, extra int); GRANT SELECT (id, extra) ON t TO app_user;
