CREATE TABLE accounts (id int PRIMARY KEY, email text, secret text);
CREATE VIEW account_public AS SELECT id, email, secret FROM accounts;
GRANT SELECT (id, email) ON account_public TO app_reader;
GRANT UPDATE (email) ON account_public TO app_user WITH GRANT OPTION;
CREATE MATERIALIZED VIEW account_ids AS SELECT id FROM accounts;
GRANT SELECT (id) ON account_ids TO app_reader;
CREATE VIEW account_emails AS SELECT id, email FROM account_public;
GRANT SELECT (email) ON account_emails TO app_user;
