-- The class gains operators and a comment and becomes DEFAULT: it is dropped and created
-- again, and the index that uses it is re-created around it; the family's comment changes in
-- place. The unique constraint takes the new default class.
CREATE TYPE size AS ENUM ('small', 'medium', 'large');
CREATE FUNCTION size_cmp(size, size) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT CASE WHEN $1 < $2 THEN -1 WHEN $1 > $2 THEN 1 ELSE 0 END $$;
CREATE FUNCTION size_lt(size, size) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT $1 < $2 $$;
CREATE FUNCTION size_le(size, size) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT $1 <= $2 $$;
CREATE FUNCTION size_eq(size, size) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT $1 = $2 $$;
CREATE FUNCTION size_ge(size, size) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT $1 >= $2 $$;
CREATE FUNCTION size_gt(size, size) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT $1 > $2 $$;
CREATE OPERATOR #< (LEFTARG = size, RIGHTARG = size, FUNCTION = size_lt);
CREATE OPERATOR #<= (LEFTARG = size, RIGHTARG = size, FUNCTION = size_le);
CREATE OPERATOR #= (LEFTARG = size, RIGHTARG = size, FUNCTION = size_eq);
CREATE OPERATOR #>= (LEFTARG = size, RIGHTARG = size, FUNCTION = size_ge);
CREATE OPERATOR #> (LEFTARG = size, RIGHTARG = size, FUNCTION = size_gt);
CREATE OPERATOR FAMILY size_family USING btree;
CREATE OPERATOR CLASS size_ops DEFAULT FOR TYPE size USING btree FAMILY size_family AS
    OPERATOR 1 #<, OPERATOR 2 #<=, OPERATOR 3 #=, OPERATOR 4 #>=, OPERATOR 5 #>,
    FUNCTION 1 size_cmp(size, size);
COMMENT ON OPERATOR FAMILY size_family USING btree IS 'sizes, smallest first';
COMMENT ON OPERATOR CLASS size_ops USING btree IS 'complete';
CREATE TABLE boxes (id integer, s size, UNIQUE (s));
CREATE INDEX boxes_s ON boxes (s size_ops);
