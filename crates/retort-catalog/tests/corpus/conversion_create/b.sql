CREATE SCHEMA enc;
-- The conversion functions ship in pg_catalog; a conversion of one's own names one.
CREATE DEFAULT CONVERSION enc.latin1_to_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE CONVERSION enc.utf8_to_latin1 FOR 'UTF8' TO 'LATIN1' FROM utf8_to_iso8859_1;
COMMENT ON CONVERSION enc.utf8_to_latin1 IS 'for the old exporter';
