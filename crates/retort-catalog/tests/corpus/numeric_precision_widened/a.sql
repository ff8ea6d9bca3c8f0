CREATE TABLE prices (id int PRIMARY KEY, amount numeric(10,2) NOT NULL DEFAULT 0 CHECK (amount >= 0), at timestamp(0) with time zone, bits bit varying(8));
CREATE INDEX prices_amount ON prices (amount);
