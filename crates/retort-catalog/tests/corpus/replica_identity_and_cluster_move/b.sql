CREATE TABLE orders (id bigint PRIMARY KEY, ref text NOT NULL, placed date NOT NULL,
                     CONSTRAINT orders_ref_key UNIQUE (ref));
CREATE UNIQUE INDEX orders_ref_placed ON orders (ref, placed);
CREATE INDEX orders_placed ON orders (placed);
ALTER TABLE orders REPLICA IDENTITY USING INDEX orders_ref_key;
ALTER TABLE orders CLUSTER ON orders_placed;
CREATE TABLE audit (id int NOT NULL, note text);
CREATE UNIQUE INDEX audit_id ON audit (id) WHERE id > 0;
ALTER TABLE audit REPLICA IDENTITY FULL;
