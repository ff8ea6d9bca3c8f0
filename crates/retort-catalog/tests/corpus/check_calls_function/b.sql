CREATE FUNCTION is_even(int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1 % 2 = 0'; CREATE TABLE t (v int CHECK (is_even(v)));
