CREATE SCHEMA enc;
-- Becomes the default (dropped and created: no ALTER for it); the other's comment changes in place.
CREATE DEFAULT CONVERSION enc.latin_in FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE CONVERSION enc.win_in FOR 'WIN1252' TO 'UTF8' FROM win_to_utf8;
COMMENT ON CONVERSION enc.win_in IS 'new';
