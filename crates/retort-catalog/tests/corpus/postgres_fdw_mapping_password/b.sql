-- postgres_fdw (its wrapper is the extension's, left out) with a validator that checks every
-- option; the mapping's password is never written into the script, and the diff says so.
CREATE EXTENSION postgres_fdw;
CREATE SERVER reports FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host 'localhost', dbname 'reports', fetch_size '1000');
CREATE USER MAPPING FOR app_user SERVER reports OPTIONS (user 'reader', password 'not-in-git');
CREATE USER MAPPING FOR PUBLIC SERVER reports OPTIONS (password 'not-in-git-either');
CREATE FOREIGN TABLE daily (day date OPTIONS (column_name 'd'), total bigint)
    SERVER reports OPTIONS (schema_name 'public', table_name 'daily', use_remote_estimate 'true');
