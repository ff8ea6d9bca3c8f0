CREATE DOMAIN email AS text CONSTRAINT email_check CHECK (VALUE LIKE '%@%'); CREATE TABLE u (e email);
