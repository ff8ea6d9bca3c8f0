CREATE FUNCTION int_add(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
CREATE FUNCTION int_sub(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 - $2';
CREATE FUNCTION big_add(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + $2';
CREATE FUNCTION count_one(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 + 1';
CREATE FUNCTION collect(internal, anyelement) RETURNS internal LANGUAGE internal AS 'ordered_set_transition';
CREATE FUNCTION pick_mid(internal, double precision, anyelement) RETURNS anyelement
    LANGUAGE internal AS 'percentile_disc_final';
CREATE FUNCTION rank_final(internal, VARIADIC "any") RETURNS bigint LANGUAGE internal AS 'hypothetical_rank_final';
CREATE FUNCTION rank_collect(internal, VARIADIC "any") RETURNS internal LANGUAGE internal AS 'ordered_set_transition_multi';
