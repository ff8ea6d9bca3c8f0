-- Options set, added and dropped in place on the wrapper, server, mapping, foreign table and
-- its column; a column added; a foreign table moved to another server is dropped and created
-- again, with the view over it around it.
CREATE FOREIGN DATA WRAPPER plain_fdw OPTIONS (debug 'false');
CREATE SERVER billing VERSION '15' FOREIGN DATA WRAPPER plain_fdw
    OPTIONS (host 'billing-2.internal', port '5432', dbname 'billing');
CREATE SERVER archive FOREIGN DATA WRAPPER plain_fdw;
CREATE USER MAPPING FOR app_user SERVER billing OPTIONS (user 'auditor', fetch_size '500');
CREATE FOREIGN TABLE invoices (
    id integer OPTIONS (column_name 'id'),
    total numeric(10,2),
    paid boolean
) SERVER billing OPTIONS (schema_name 'billing', table_name 'invoices');
CREATE FOREIGN TABLE old_invoices (id integer) SERVER archive;
CREATE VIEW old_ids AS SELECT id FROM old_invoices;
