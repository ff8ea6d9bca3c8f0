CREATE SCHEMA feed;
CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, secret text);
CREATE TABLE payments (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts, cents int);
CREATE TABLE feed.items (id int PRIMARY KEY);
CREATE PUBLICATION cdc FOR TABLE accounts;
