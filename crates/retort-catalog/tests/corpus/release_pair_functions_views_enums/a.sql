CREATE TYPE "Order Status" AS ENUM ('new', 'paid', 'shipped');
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
CREATE TABLE "Orders" (
  id serial PRIMARY KEY,
  status "Order Status" NOT NULL DEFAULT 'new',
  qty positive_int NOT NULL,
  note text
);
CREATE INDEX orders_open ON "Orders" (id) WHERE status <> 'shipped';
CREATE FUNCTION order_weight(q positive_int, factor numeric DEFAULT 1.0) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$ SELECT q * factor $$;
CREATE VIEW open_orders AS SELECT id, status, order_weight(qty) AS weight FROM "Orders" WHERE status <> 'shipped';
CREATE VIEW open_order_count AS SELECT count(*) AS n FROM open_orders;
CREATE FUNCTION open_orders_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "Orders" (qty, note) VALUES (1, 'via view');
  RETURN NEW;
END $$;
CREATE TRIGGER open_orders_ins INSTEAD OF INSERT ON open_orders FOR EACH ROW EXECUTE FUNCTION open_orders_insert();
ALTER TABLE "Orders" ENABLE ROW LEVEL SECURITY;
CREATE POLICY staff_all ON "Orders" AS PERMISSIVE FOR ALL TO app_user USING (true);
CREATE POLICY readers_paid ON "Orders" FOR SELECT TO app_reader USING (status = 'paid');
COMMENT ON VIEW open_orders IS 'what is "open"';
CREATE SEQUENCE invoice_no AS smallint;
