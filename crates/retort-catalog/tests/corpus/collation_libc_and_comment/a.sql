CREATE COLLATION bytewise (provider = libc, locale = 'C');
COMMENT ON COLLATION bytewise IS 'old note';
CREATE TABLE codes (code text COLLATE bytewise);
