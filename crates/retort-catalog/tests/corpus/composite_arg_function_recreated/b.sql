CREATE TYPE pt AS (x int, y int); CREATE FUNCTION norm(p pt) RETURNS bigint LANGUAGE sql AS 'SELECT (abs(p.x) + abs(p.y))::bigint';
