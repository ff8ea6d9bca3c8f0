CREATE TYPE textspan AS RANGE (subtype = text, collation = "C");
CREATE TYPE numspan AS RANGE (subtype = numeric);
CREATE TABLE bookings (
  id int PRIMARY KEY,
  letters textspan DEFAULT textspan('a', 'm'),
  amounts numspan,
  history numspan[]
);
CREATE INDEX bookings_amounts ON bookings USING gist (amounts);
