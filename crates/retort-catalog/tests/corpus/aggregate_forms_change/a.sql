CREATE FUNCTION int_add(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
CREATE FUNCTION int_sub(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 - $2';
CREATE FUNCTION big_add(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
CREATE AGGREGATE running_sum(integer) (SFUNC = int_add, STYPE = bigint, INITCOND = '0');
CREATE AGGREGATE biggest(integer) (SFUNC = int4larger, STYPE = integer);
CREATE VIEW sums AS SELECT running_sum(x) AS s FROM generate_series(1, 3) x;
