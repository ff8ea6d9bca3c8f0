CREATE SCHEMA auth; CREATE SCHEMA billing;
CREATE TYPE billing.currency AS ENUM ('EUR', 'USD');
CREATE TABLE auth.accounts (id int PRIMARY KEY);
CREATE TABLE billing.invoices (id int PRIMARY KEY, account_id int REFERENCES auth.accounts, cur billing.currency NOT NULL DEFAULT 'EUR');
CREATE VIEW auth.account_totals AS SELECT a.id, count(i.id) AS n FROM auth.accounts a LEFT JOIN billing.invoices i ON i.account_id = a.id GROUP BY a.id;
