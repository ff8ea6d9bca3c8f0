CREATE TYPE s AS ENUM ('todo', 'done'); CREATE TABLE t (x s);
