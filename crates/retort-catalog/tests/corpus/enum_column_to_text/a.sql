CREATE TYPE mood AS ENUM ('a'); CREATE TABLE p (m mood);
