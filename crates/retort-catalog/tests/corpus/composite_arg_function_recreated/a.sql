CREATE TYPE pt AS (x int, y int); CREATE FUNCTION norm(p pt) RETURNS int LANGUAGE sql AS 'SELECT abs(p.x) + abs(p.y)';
