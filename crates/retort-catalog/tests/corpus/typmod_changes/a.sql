CREATE TABLE d (n numeric(10,2), t timestamp(3), c char(2), b bit(4));
