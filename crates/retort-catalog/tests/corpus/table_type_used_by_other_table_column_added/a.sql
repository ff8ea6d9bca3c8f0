CREATE TABLE point2 (x int, y int); CREATE TABLE shapes (p point2);
