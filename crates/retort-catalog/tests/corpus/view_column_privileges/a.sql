CREATE TABLE accounts (id int PRIMARY KEY, email text, secret text);
CREATE VIEW account_public AS SELECT id, email, secret FROM accounts;
GRANT SELECT (id) ON account_public TO app_reader;
CREATE MATERIALIZED VIEW account_ids AS SELECT id FROM accounts;
