-- A wrapper without handler, a server, mappings for a role and for PUBLIC, and a foreign table
-- with column options, a default, NOT NULL, a CHECK, a comment, a grant and a view over it.
CREATE FOREIGN DATA WRAPPER plain_fdw OPTIONS (debug 'true');
COMMENT ON FOREIGN DATA WRAPPER plain_fdw IS 'no handler: for metadata only';
CREATE SERVER billing TYPE 'postgresql' VERSION '15' FOREIGN DATA WRAPPER plain_fdw
    OPTIONS (host 'billing.internal', port '5432');
COMMENT ON SERVER billing IS 'the billing database';
GRANT USAGE ON FOREIGN SERVER billing TO app_user;
CREATE USER MAPPING FOR app_user SERVER billing OPTIONS (user 'reporter');
CREATE USER MAPPING FOR PUBLIC SERVER billing;
CREATE TABLE local_notes (id integer PRIMARY KEY);
CREATE FOREIGN TABLE invoices (
    id integer OPTIONS (column_name 'invoice_id') NOT NULL,
    total numeric(10,2),
    note text DEFAULT ''
) SERVER billing OPTIONS (schema_name 'public', table_name 'invoices');
ALTER FOREIGN TABLE invoices ADD CONSTRAINT positive CHECK (total >= 0);
COMMENT ON FOREIGN TABLE invoices IS 'remote invoices';
COMMENT ON COLUMN invoices.total IS 'in euros';
GRANT SELECT ON invoices TO app_reader;
CREATE VIEW big_invoices AS SELECT id FROM invoices WHERE total > 100;
