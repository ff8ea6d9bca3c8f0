-- What `alembic upgrade heads` left in the database (written by hand for the test).
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text);
CREATE INDEX users_email ON users (email);
CREATE TABLE invoices (id serial PRIMARY KEY, user_id integer REFERENCES users (id), cents bigint);
CREATE VIEW user_totals AS SELECT u.id, sum(i.cents) AS cents FROM users u LEFT JOIN invoices i ON i.user_id = u.id GROUP BY u.id;
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version VALUES ('4d0000000004');
