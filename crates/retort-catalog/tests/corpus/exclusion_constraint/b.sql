CREATE EXTENSION btree_gist; CREATE TABLE r (room int, during tsrange, EXCLUDE USING gist (room WITH =, during WITH &&));
