CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2), placed date);
CREATE VIEW recent AS SELECT id, total FROM orders WHERE placed > '2024-01-01';
COMMENT ON COLUMN recent.total IS 'gross, in EUR';
CREATE MATERIALIZED VIEW daily AS SELECT placed, sum(total) AS total FROM orders GROUP BY placed WITH NO DATA;
CREATE MATERIALIZED VIEW weekly AS SELECT date_trunc('week', placed) AS week, count(*) AS n FROM orders GROUP BY 1;
COMMENT ON COLUMN weekly.n IS 'orders | placed';
