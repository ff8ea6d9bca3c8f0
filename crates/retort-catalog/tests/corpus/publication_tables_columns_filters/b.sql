CREATE SCHEMA feed;
CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, secret text);
CREATE TABLE payments (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts, cents int);
CREATE TABLE feed.items (id int PRIMARY KEY);
CREATE PUBLICATION cdc FOR TABLE accounts (id, name) WHERE (id > 0), payments
  WITH (publish = 'insert, update');
CREATE PUBLICATION "feed out" FOR TABLES IN SCHEMA feed WITH (publish_via_partition_root = true);
CREATE PUBLICATION everything FOR ALL TABLES;
COMMENT ON PUBLICATION everything IS 'for the warehouse';
