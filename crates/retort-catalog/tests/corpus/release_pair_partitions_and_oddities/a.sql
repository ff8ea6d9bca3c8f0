CREATE TABLE tenants (id int PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE measurements (
  tenant_id int NOT NULL REFERENCES tenants (id),
  taken_at timestamptz NOT NULL,
  value double precision,
  PRIMARY KEY (tenant_id, taken_at)
) PARTITION BY LIST (tenant_id);
CREATE TABLE measurements_t1 PARTITION OF measurements FOR VALUES IN (1) PARTITION BY RANGE (taken_at);
CREATE TABLE measurements_t1_2026 PARTITION OF measurements_t1 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE measurements_rest PARTITION OF measurements DEFAULT;
CREATE INDEX measurements_value ON measurements (value);
CREATE TABLE parent_a (a int);
CREATE TABLE parent_b (b int);
CREATE TABLE child_ab (c int) INHERITS (parent_a, parent_b);
ALTER TABLE ONLY parent_a ADD CONSTRAINT a_positive CHECK (a > 0) NO INHERIT;
CREATE TYPE float_span AS RANGE (subtype = float8);
CREATE DOMAIN tags AS text[] CHECK (cardinality(VALUE) <= 10);
CREATE TABLE items (id serial PRIMARY KEY, labels tags, span float_span, created timestamp(3) DEFAULT CURRENT_TIMESTAMP);
CREATE VIEW item_labels WITH (security_invoker = true) AS SELECT id, labels FROM items;
CREATE FUNCTION secure_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public STABLE COST 50 AS $$ SELECT count(*) FROM public.items $$;
REVOKE ALL ON FUNCTION secure_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secure_count() TO app_user;
CREATE FUNCTION concat_state(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce($1 || ',', '') || $2 $$;
CREATE FUNCTION concat_final(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '[' || $1 || ']' $$;
CREATE AGGREGATE bracket_concat(text) (SFUNC = concat_state, STYPE = text, FINALFUNC = concat_final);
COMMENT ON DOMAIN tags IS 'at most ten';
COMMENT ON SEQUENCE items_id_seq IS 'item ids';
COMMENT ON AGGREGATE bracket_concat(text) IS 'joins';
GRANT USAGE ON SEQUENCE items_id_seq TO app_user;
GRANT USAGE ON TYPE float_span TO app_reader;
