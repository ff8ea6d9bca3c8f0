CREATE TABLE d (n numeric(12,4), t timestamp(6) with time zone, c char(3), b varbit(8));
