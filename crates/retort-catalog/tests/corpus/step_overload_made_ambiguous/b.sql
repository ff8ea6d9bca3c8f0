-- A defaulted parameter is added: while the old and the new function both exist, every call
-- price_with_tax(x) is ambiguous, so the old one must go before anything calls the new one.
CREATE FUNCTION price_with_tax(amount numeric, rate numeric DEFAULT 1.2) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS $$ SELECT amount * rate $$;
CREATE TABLE items (id integer PRIMARY KEY, price numeric NOT NULL,
    gross numeric GENERATED ALWAYS AS (price_with_tax(price)) STORED,
    CONSTRAINT sane CHECK (price_with_tax(price) < 1000000));
CREATE VIEW gross_prices AS SELECT id, price_with_tax(price) AS gross FROM items;
