CREATE TABLE base (v int CHECK (v > 0), w int); CREATE TABLE child (x int) INHERITS (base);
