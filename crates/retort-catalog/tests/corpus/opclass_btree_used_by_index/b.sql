-- A descending btree class for text, used by an index: the family it creates implicitly is
-- written out, and the index is created after the class.
CREATE FUNCTION text_reverse_cmp(text, text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT bttextcmp($2, $1) $$;
CREATE OPERATOR CLASS text_reverse_ops FOR TYPE text USING btree AS
    OPERATOR 1 >, OPERATOR 2 >=, OPERATOR 3 =, OPERATOR 4 <=, OPERATOR 5 <,
    FUNCTION 1 text_reverse_cmp(text, text);
COMMENT ON OPERATOR CLASS text_reverse_ops USING btree IS 'text, last word first';
CREATE TABLE words (w text);
CREATE INDEX words_reverse ON words (w text_reverse_ops);
