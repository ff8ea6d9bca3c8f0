CREATE EXTENSION btree_gist; CREATE TABLE r (id int, during daterange, EXCLUDE USING gist (id WITH =, during WITH &&) DEFERRABLE INITIALLY DEFERRED);
