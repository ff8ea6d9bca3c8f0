CREATE FUNCTION price_with_tax(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE
    AS $$ SELECT amount * 1.2 $$;
CREATE TABLE items (id integer PRIMARY KEY, price numeric NOT NULL,
    gross numeric GENERATED ALWAYS AS (price_with_tax(price)) STORED,
    CONSTRAINT sane CHECK (price_with_tax(price) < 1000000));
CREATE VIEW gross_prices AS SELECT id, price_with_tax(price) AS gross FROM items;
