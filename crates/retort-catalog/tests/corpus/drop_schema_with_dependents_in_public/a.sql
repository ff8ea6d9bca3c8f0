CREATE SCHEMA util; CREATE FUNCTION util.clamp(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT greatest(0, $1)'; CREATE TABLE t (v int CHECK (util.clamp(v) = v));
