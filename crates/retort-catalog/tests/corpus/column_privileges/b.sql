CREATE TABLE t (id int, secret text); GRANT SELECT (id), UPDATE (id) ON t TO app_user; GRANT INSERT (id, secret) ON t TO app_admin WITH GRANT OPTION;
