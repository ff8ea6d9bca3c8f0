CREATE TYPE c AS ENUM ('r', 'g', 'b'); CREATE TABLE t (x c);
