CREATE TYPE person AS (name text, age int, legacy_code text);
CREATE TABLE people OF person (PRIMARY KEY (name), age WITH OPTIONS DEFAULT 0 NOT NULL);
CREATE INDEX people_age ON people (age);
CREATE VIEW adults AS SELECT name, age FROM people WHERE age >= 18;
