CREATE TYPE mood AS ENUM ('a', 'b', 'x'); CREATE TABLE t (m mood CONSTRAINT not_x CHECK (m <> 'b'));
