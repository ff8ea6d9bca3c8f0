-- Extensions whose members are views (pg_stat_statements), types, operators and hundreds of
-- functions (btree_gist, hstore): none of them is part of the diff, only the user's objects.
CREATE EXTENSION pg_stat_statements;
CREATE EXTENSION btree_gist;
CREATE EXTENSION hstore;
CREATE TABLE booking (room int, during tsrange, tags hstore,
  EXCLUDE USING gist (room WITH =, during WITH &&));
