CREATE TYPE colour AS ENUM ('red', 'green', 'blue');
CREATE TABLE paint (c colour);
CREATE INDEX paint_c ON paint USING hash (c);
