CREATE TYPE person AS (name text, age bigint, email text);
CREATE TABLE people OF person (PRIMARY KEY (name), email WITH OPTIONS NOT NULL);
CREATE INDEX people_age ON people (age);
CREATE VIEW adults AS SELECT name, age FROM people WHERE age >= 18;
