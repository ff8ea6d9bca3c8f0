CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE base_items (id int PRIMARY KEY, note text, tags text[] NOT NULL DEFAULT '{}');
CREATE TABLE special_items (extra int, CHECK (extra > 0) NOT VALID) INHERITS (base_items);
CREATE TABLE cache_entries (k text PRIMARY KEY, v bytea) WITH (fillfactor = 70, autovacuum_enabled = false);
CREATE UNLOGGED SEQUENCE scratch_ids;
CREATE TABLE orders (
  id int GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5 CACHE 20) PRIMARY KEY,
  code text COLLATE "C" NOT NULL,
  payload text,
  amount numeric(12, 2),
  window_ floatrange,
  status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'void'))
);
ALTER TABLE orders ALTER COLUMN code SET STATISTICS 100;
ALTER TABLE orders ALTER COLUMN amount SET (n_distinct = -0.5);
CREATE TABLE order_lines (
  order_id int,
  line int,
  sku text,
  qty int DEFAULT 1,
  PRIMARY KEY (order_id, line),
  CONSTRAINT order_fk FOREIGN KEY (order_id) REFERENCES orders (id) MATCH SIMPLE ON DELETE CASCADE ON UPDATE RESTRICT
);
CREATE INDEX orders_code_pattern ON orders (code text_pattern_ops DESC NULLS FIRST) INCLUDE (amount, status);
CREATE INDEX order_lines_brin ON order_lines USING brin (order_id) WITH (pages_per_range = 64);
CREATE INDEX order_lines_sku_hash ON order_lines USING hash (sku);
CREATE STATISTICS orders_stats (ndistinct, dependencies, mcv) ON code, amount FROM orders;
CREATE STATISTICS orders_expr_stats ON (lower(code)), status FROM orders;
CREATE RULE no_delete_cache AS ON DELETE TO cache_entries WHERE old.k LIKE 'keep:%' DO INSTEAD NOTHING;
CREATE FUNCTION sum_lines(VARIADIC xs int[]) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT coalesce(sum(x), 0) FROM unnest(xs) x $$;
CREATE PROCEDURE purge_cache(older_than interval DEFAULT '7 days') LANGUAGE plpgsql AS $$ BEGIN DELETE FROM cache_entries; END $$;
CREATE FUNCTION audit_lines() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER lines_audit AFTER UPDATE ON order_lines REFERENCING NEW TABLE AS inserted OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION audit_lines();
CREATE CONSTRAINT TRIGGER lines_check AFTER INSERT ON order_lines DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.qty > 100) EXECUTE FUNCTION audit_lines();
COMMENT ON TRIGGER lines_check ON order_lines IS 'big orders';
CREATE VIEW big_orders AS SELECT id, code, amount, status FROM orders WHERE amount > 100 WITH LOCAL CHECK OPTION;
CREATE RECURSIVE VIEW countdown (n) AS SELECT 10 UNION ALL SELECT n - 1 FROM countdown WHERE n > 0;
CREATE MATERIALIZED VIEW order_counts AS SELECT code, status, count(*) AS n FROM orders GROUP BY code, status;
COMMENT ON COLUMN order_counts.n IS 'orders';
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app_reader, app_user;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER TABLE orders ALTER COLUMN payload SET STORAGE MAIN;
