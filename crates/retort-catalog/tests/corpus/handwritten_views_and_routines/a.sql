-- An earlier release: the tables only.
CREATE SCHEMA app;
CREATE TYPE app.money_pair AS (amount numeric(12, 2), currency char(3));
CREATE TABLE app.customers (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    country varchar(2) NOT NULL DEFAULT 'DE',
    vip boolean NOT NULL DEFAULT false,
    meta json
);
CREATE TABLE app.orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id int NOT NULL REFERENCES app.customers ON UPDATE CASCADE,
    total app.money_pair,
    placed_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    note varchar(200) COLLATE "C"
);
CREATE TABLE app.order_audit (
    order_id bigint,
    op char(1) NOT NULL,
    at timestamptz DEFAULT clock_timestamp()
);
