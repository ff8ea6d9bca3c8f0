CREATE TABLE a (id int, x bigint); CREATE TABLE b (id int, y int); CREATE VIEW ab AS SELECT a.x, b.y FROM a JOIN b USING (id);
