CREATE TYPE mood AS ENUM ('sad', 'ok', 'meh'); CREATE TABLE p (m mood DEFAULT 'ok', ms mood[]);
