CREATE TYPE mood AS ENUM ('sad'); CREATE TABLE p (m mood);
