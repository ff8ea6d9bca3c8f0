CREATE TABLE point2 (x int, y int, z int); CREATE TABLE shapes (p point2);
