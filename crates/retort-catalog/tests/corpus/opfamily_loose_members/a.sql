CREATE OPERATOR FAMILY mixed_ints USING btree;
ALTER OPERATOR FAMILY mixed_ints USING btree ADD
    OPERATOR 1 < (integer, bigint), FUNCTION 1 (integer, bigint) btint48cmp(integer, bigint);
