CREATE FUNCTION int_add(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
CREATE FUNCTION int_sub(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 - $2';
CREATE FUNCTION big_add(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
CREATE FUNCTION count_one(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + 1';
CREATE FUNCTION collect(internal, anyelement) RETURNS internal LANGUAGE internal AS 'ordered_set_transition';
CREATE FUNCTION pick_mid(internal, double precision, anyelement) RETURNS anyelement
    LANGUAGE internal AS 'percentile_disc_final';
CREATE FUNCTION rank_final(internal, VARIADIC "any") RETURNS bigint LANGUAGE internal AS 'hypothetical_rank_final';
CREATE FUNCTION rank_collect(internal, VARIADIC "any") RETURNS internal LANGUAGE internal AS 'ordered_set_transition_multi';
-- Zero arguments.
CREATE AGGREGATE my_count(*) (SFUNC = count_one, STYPE = bigint, INITCOND = '0');
-- Moving-aggregate mode, combine function, parallel safe, sort operator.
CREATE AGGREGATE running_sum(integer) (SFUNC = int_add, STYPE = bigint, INITCOND = '0',
    COMBINEFUNC = big_add, PARALLEL = SAFE,
    MSFUNC = int_add, MINVFUNC = int_sub, MSTYPE = bigint, MINITCOND = '0');
CREATE AGGREGATE biggest(integer) (SFUNC = int4larger, STYPE = integer, SORTOP = >);
-- Ordered-set and hypothetical-set.
CREATE AGGREGATE mid_value(double precision ORDER BY anyelement) (SFUNC = collect, STYPE = internal,
    FINALFUNC = pick_mid, FINALFUNC_EXTRA);
CREATE AGGREGATE my_rank(VARIADIC "any" ORDER BY VARIADIC "any") (SFUNC = rank_collect, STYPE = internal,
    FINALFUNC = rank_final, FINALFUNC_EXTRA, HYPOTHETICAL);
COMMENT ON AGGREGATE my_count(*) IS 'counts rows';
COMMENT ON AGGREGATE mid_value(double precision ORDER BY anyelement) IS 'the middle one';
