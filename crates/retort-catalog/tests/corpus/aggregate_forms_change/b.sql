CREATE FUNCTION int_add(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
CREATE FUNCTION int_sub(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 - $2';
CREATE FUNCTION big_add(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
-- Gains moving mode, a combine function and PARALLEL (CREATE OR REPLACE keeps the view);
-- the other gains a sort operator and FINALFUNC_MODIFY.
CREATE AGGREGATE running_sum(integer) (SFUNC = int_add, STYPE = bigint, INITCOND = '0',
    COMBINEFUNC = big_add, PARALLEL = SAFE, MSFUNC = int_add, MINVFUNC = int_sub, MSTYPE = bigint,
    MINITCOND = '0');
CREATE AGGREGATE biggest(integer) (SFUNC = int4larger, STYPE = integer, SORTOP = >,
    FINALFUNC_MODIFY = SHAREABLE);
CREATE VIEW sums AS SELECT running_sum(x) AS s FROM generate_series(1, 3) x;
