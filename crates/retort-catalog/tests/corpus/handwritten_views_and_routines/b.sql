-- Views, routines and triggers as people write them by hand; compared with the database built
-- from retort's script and with a restore of pg_dump's output.
CREATE SCHEMA app;
CREATE TYPE app.money_pair AS (amount numeric(12, 2), currency char(3));
CREATE TABLE app.customers (
    id int GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 10) PRIMARY KEY,
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
) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.05);
CREATE TABLE app.order_audit (
    order_id bigint,
    op char(1) NOT NULL,
    at timestamptz DEFAULT clock_timestamp()
);
CREATE VIEW app.customer_totals WITH (security_barrier) AS
    WITH recent AS (
        SELECT customer_id, (total).amount AS amount
        FROM app.orders
        WHERE placed_at >= date_trunc('month', now()) - interval '3 months'
    )
    SELECT c.id, c.name,
           coalesce(sum(r.amount), 0) AS spent,
           rank() OVER w AS place,
           nullif(c.country, 'XX') AS country,
           greatest(c.id, 0) AS gid,
           c.meta ->> 'segment' AS segment
    FROM app.customers c
    LEFT JOIN recent r ON r.customer_id = c.id
    GROUP BY GROUPING SETS ((c.id, c.name, c.country, c.meta ->> 'segment'), ())
    WINDOW w AS (ORDER BY coalesce(sum(r.amount), 0) DESC);
CREATE VIEW app.vip_customers AS
    SELECT id, name, country FROM app.customers WHERE vip AND country IN ('DE', 'AT', 'CH')
    WITH LOCAL CHECK OPTION;
CREATE VIEW app.everyone AS
    SELECT id, name, 'customer'::text AS kind FROM app.customers
    UNION ALL
    SELECT id::int, note::text, 'order' FROM app.orders WHERE note IS NOT NULL
    ORDER BY 1
    LIMIT 1000;
CREATE VIEW app.hierarchy AS
    WITH RECURSIVE n(i) AS (VALUES (1) UNION ALL SELECT i + 1 FROM n WHERE i < 10)
    SELECT i, i % 2 = 0 AS even, row(i, i * 2)::text AS pair FROM n;
CREATE VIEW app.customer_orders AS
    SELECT c.name, o.id AS order_id, (o.total).currency
    FROM app.customers c JOIN app.orders o ON o.customer_id = c.id
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM app.order_audit a WHERE a.order_id = o.id) x
    WHERE x.n < 5 AND o.note::text LIKE '%rush%';
CREATE FUNCTION app.order_count(cid int) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE COST 50
    BEGIN ATOMIC
        SELECT count(*) FROM app.orders WHERE customer_id = cid AND note::varchar IN ('a', 'b');
    END;
CREATE FUNCTION app.audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = app, pg_temp AS $body$
BEGIN
    INSERT INTO app.order_audit (order_id, op) VALUES (coalesce(NEW.id, OLD.id), left(TG_OP, 1));
    RETURN NULL;
END
$body$;
REVOKE ALL ON FUNCTION app.audit() FROM PUBLIC;
CREATE FUNCTION app.big_spenders(min_total numeric DEFAULT 100.5, VARIADIC countries text[] DEFAULT '{}')
    RETURNS TABLE (id int, name text) LANGUAGE sql STABLE ROWS 20
    AS $$ SELECT id, name FROM app.customers WHERE country = ANY (countries) $$;
CREATE PROCEDURE app.close_day(IN day date, INOUT closed int DEFAULT 0)
    LANGUAGE plpgsql AS $$ BEGIN closed := 1; END $$;
CREATE TRIGGER orders_audit AFTER INSERT OR DELETE OR UPDATE OF total, note ON app.orders
    FOR EACH ROW EXECUTE FUNCTION app.audit();
CREATE TRIGGER orders_audit_stmt AFTER INSERT ON app.orders
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION app.audit();
CREATE CONSTRAINT TRIGGER customers_check AFTER UPDATE ON app.customers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.country IS DISTINCT FROM OLD.country) EXECUTE FUNCTION app.audit();
CREATE POLICY restrict_country ON app.customers AS RESTRICTIVE FOR SELECT TO app_reader
    USING (country = ANY (ARRAY['DE', 'AT']::varchar[]) OR vip);
ALTER TABLE app.customers ENABLE ROW LEVEL SECURITY;
COMMENT ON VIEW app.everyone IS 'customers and orders, ''quoted'' and "double"';
GRANT SELECT ON app.customer_totals, app.vip_customers TO app_reader;
GRANT EXECUTE ON FUNCTION app.order_count(int) TO app_user;
