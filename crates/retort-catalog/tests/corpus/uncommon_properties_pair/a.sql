CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE base_items (id int PRIMARY KEY, note text);
CREATE TABLE special_items (extra int) INHERITS (base_items);
CREATE UNLOGGED TABLE cache_entries (k text PRIMARY KEY, v bytea) WITH (fillfactor = 90);
CREATE TABLE orders (
  id int GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 10) PRIMARY KEY,
  code text COLLATE "C" NOT NULL,
  payload text,
  amount numeric(10, 2),
  window_ floatrange
);
ALTER TABLE orders ALTER COLUMN code SET STATISTICS 500;
CREATE TABLE order_lines (
  order_id int,
  line int,
  sku text,
  PRIMARY KEY (order_id, line),
  CONSTRAINT order_fk FOREIGN KEY (order_id) REFERENCES orders (id) MATCH FULL ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX orders_code_pattern ON orders (code text_pattern_ops) INCLUDE (amount);
CREATE INDEX order_lines_brin ON order_lines USING brin (order_id) WITH (pages_per_range = 32);
CREATE STATISTICS orders_stats (ndistinct, dependencies) ON code, amount FROM orders;
CREATE RULE no_delete_cache AS ON DELETE TO cache_entries DO INSTEAD NOTHING;
CREATE FUNCTION sum_lines(VARIADIC xs int[]) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT sum(x) FROM unnest(xs) x $$;
CREATE PROCEDURE purge_cache(older_than interval DEFAULT '1 day') LANGUAGE plpgsql AS $$ BEGIN DELETE FROM cache_entries; END $$;
CREATE FUNCTION audit_lines() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER lines_audit AFTER INSERT ON order_lines REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_lines();
CREATE VIEW big_orders AS SELECT id, code, amount FROM orders WHERE amount > 100 WITH CASCADED CHECK OPTION;
CREATE MATERIALIZED VIEW order_counts AS SELECT code, count(*) AS n FROM orders GROUP BY code WITH NO DATA;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app_reader;
ALTER TABLE orders ALTER COLUMN payload SET STORAGE EXTERNAL;
