CREATE TYPE c AS ENUM ('r', 'g'); CREATE TABLE t (x c);
