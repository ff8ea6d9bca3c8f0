CREATE TYPE color AS ENUM ('r', 'g'); CREATE DOMAIN warm AS color CHECK (VALUE = 'r'); CREATE TABLE paint (c warm);
