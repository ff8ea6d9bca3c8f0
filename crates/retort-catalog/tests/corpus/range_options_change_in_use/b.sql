CREATE FUNCTION num_diff(numeric, numeric) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT ($1 - $2)::float8';
CREATE TYPE textspan AS RANGE (subtype = text, collation = "POSIX", multirange_type_name = textspans);
CREATE TYPE numspan AS RANGE (subtype = numeric, subtype_diff = num_diff);
CREATE TABLE bookings (
  id int PRIMARY KEY,
  letters textspan DEFAULT textspan('b', 'n'),
  amounts numspan,
  history numspan[]
);
CREATE INDEX bookings_amounts ON bookings USING gist (amounts);
