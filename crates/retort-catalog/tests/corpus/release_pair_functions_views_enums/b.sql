CREATE TYPE "Order Status" AS ENUM ('new', 'paid', 'packed', 'shipped', 'returned');
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0) CHECK (VALUE < 100000);
CREATE TABLE "Orders" (
  id serial PRIMARY KEY,
  status "Order Status" NOT NULL DEFAULT 'new',
  qty positive_int NOT NULL,
  note varchar(500),
  weight numeric GENERATED ALWAYS AS (qty * 2.5) STORED
);
CREATE INDEX orders_open ON "Orders" (id) WHERE status NOT IN ('shipped', 'returned');
CREATE FUNCTION order_weight(q positive_int, factor numeric DEFAULT 2.5) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$ SELECT q * factor $$;
CREATE VIEW open_orders AS SELECT id, status, order_weight(qty) AS weight, note FROM "Orders" WHERE status NOT IN ('shipped', 'returned');
CREATE VIEW open_order_count AS SELECT count(*) AS n, sum(weight) AS total_weight FROM open_orders;
CREATE FUNCTION open_orders_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "Orders" (qty, note) VALUES (coalesce(NEW.weight, 1)::int, NEW.note);
  RETURN NEW;
END $$;
CREATE TRIGGER open_orders_ins INSTEAD OF INSERT ON open_orders FOR EACH ROW EXECUTE FUNCTION open_orders_insert();
ALTER TABLE "Orders" ENABLE ROW LEVEL SECURITY;
CREATE POLICY staff_all ON "Orders" AS RESTRICTIVE FOR ALL TO app_user, app_admin USING (true);
CREATE POLICY readers_paid ON "Orders" FOR SELECT TO app_reader USING (status IN ('paid', 'packed'));
COMMENT ON VIEW open_orders IS 'what is ''open''';
CREATE SEQUENCE invoice_no AS integer;
