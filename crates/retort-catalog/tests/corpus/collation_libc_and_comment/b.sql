CREATE COLLATION bytewise (provider = libc, locale = 'C');
COMMENT ON COLLATION bytewise IS 'sorts by byte';
CREATE COLLATION split (provider = libc, lc_collate = 'C', lc_ctype = 'POSIX');
CREATE TABLE codes (code text COLLATE bytewise, other text COLLATE split);
