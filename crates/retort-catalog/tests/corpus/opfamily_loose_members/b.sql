-- Cross-type members are loose in their family: added and dropped in place.
CREATE OPERATOR FAMILY mixed_ints USING btree;
ALTER OPERATOR FAMILY mixed_ints USING btree ADD
    OPERATOR 1 < (bigint, integer), OPERATOR 3 = (integer, bigint), OPERATOR 5 > (integer, bigint),
    FUNCTION 1 (integer, bigint) btint48cmp(integer, bigint),
    FUNCTION 1 (bigint, integer) btint84cmp(bigint, integer);
