CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (id int PRIMARY KEY);
CREATE PUBLICATION orders_pub WITH (publish = 'delete, truncate');
CREATE PUBLICATION later FOR TABLE b, a;
