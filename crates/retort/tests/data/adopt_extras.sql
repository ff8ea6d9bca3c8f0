-- Objects beyond genschema.py's tables, views, functions and triggers, for the baseline test.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE DOMAIN app.email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE TYPE app.money_pair AS (amount numeric(12,2), currency char(3));
CREATE SEQUENCE app.invoice_no START 1000 INCREMENT 7;
CREATE TABLE app.accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email app.email NOT NULL UNIQUE,
    balance app.money_pair,
    secret bytea DEFAULT gen_random_bytes(8),
    invoice_no bigint DEFAULT nextval('app.invoice_no')
);
CREATE TABLE app.measurements (
    id bigint NOT NULL, taken_at timestamptz NOT NULL, value double precision
) PARTITION BY RANGE (taken_at);
CREATE TABLE app.measurements_2025 PARTITION OF app.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.measurements_2026 PARTITION OF app.measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX measurements_taken ON app.measurements (taken_at);
ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_account ON app.accounts USING (email = current_setting('app.email', true));
CREATE VIEW app.rich AS SELECT id, email FROM app.accounts WHERE (balance).amount > 1000;
CREATE VIEW app.rich_emails AS SELECT email FROM app.rich;
CREATE MATERIALIZED VIEW app.account_count AS SELECT count(*) AS n FROM app.accounts;
CREATE FUNCTION app.account_email(p_id bigint) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT email FROM app.accounts WHERE id = p_id);
DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'adopt_reader') THEN CREATE ROLE adopt_reader; END IF; END$$;
GRANT USAGE ON SCHEMA app TO adopt_reader;
GRANT SELECT ON app.accounts, app.rich TO adopt_reader;
COMMENT ON TABLE app.accounts IS 'who pays';
