CREATE TYPE s AS ENUM ('open', 'done'); CREATE TABLE t (x s);
