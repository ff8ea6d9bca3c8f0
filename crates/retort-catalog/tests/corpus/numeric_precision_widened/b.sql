CREATE TABLE prices (id int PRIMARY KEY, amount numeric(14,2) NOT NULL DEFAULT 0 CHECK (amount >= 0), at timestamp(3) with time zone, bits bit varying(16));
CREATE INDEX prices_amount ON prices (amount);
