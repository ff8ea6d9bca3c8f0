CREATE FOREIGN DATA WRAPPER plain_fdw;
CREATE SERVER billing VERSION '14' FOREIGN DATA WRAPPER plain_fdw
    OPTIONS (host 'billing.internal', port '5432');
CREATE SERVER archive FOREIGN DATA WRAPPER plain_fdw;
CREATE USER MAPPING FOR app_user SERVER billing OPTIONS (user 'reporter');
CREATE FOREIGN TABLE invoices (
    id integer OPTIONS (column_name 'invoice_id'),
    total numeric(10,2)
) SERVER billing OPTIONS (table_name 'invoices');
CREATE FOREIGN TABLE old_invoices (id integer) SERVER billing;
CREATE VIEW old_ids AS SELECT id FROM old_invoices;
