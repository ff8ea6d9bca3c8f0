CREATE TYPE person AS (name text, age int);
CREATE TABLE people (name text PRIMARY KEY, age int);
