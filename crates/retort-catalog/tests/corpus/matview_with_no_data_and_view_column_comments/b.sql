CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2), placed date);
CREATE VIEW recent AS SELECT id, total FROM orders WHERE placed > '2024-01-01';
COMMENT ON COLUMN recent.id IS 'order number';
COMMENT ON COLUMN recent.total IS 'gross, in EUR (incl. tax)';
CREATE MATERIALIZED VIEW daily AS SELECT placed, sum(total) AS total FROM orders GROUP BY placed;
COMMENT ON COLUMN daily.total IS 'sum';
CREATE MATERIALIZED VIEW weekly AS SELECT date_trunc('week', placed) AS week, count(*) AS n FROM orders GROUP BY 1 WITH NO DATA;
