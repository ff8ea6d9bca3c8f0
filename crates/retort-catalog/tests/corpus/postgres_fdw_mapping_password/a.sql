CREATE EXTENSION postgres_fdw;
CREATE SERVER reports FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', dbname 'reports');
CREATE USER MAPPING FOR app_user SERVER reports OPTIONS (user 'reader');
