CREATE TABLE s (d date, amount numeric);
