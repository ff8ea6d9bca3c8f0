CREATE TABLE unrelated (id int PRIMARY KEY);
CREATE TYPE person AS (name text, age int, nickname varchar(40));
CREATE TABLE people OF person (PRIMARY KEY (name), age WITH OPTIONS DEFAULT 0 NOT NULL);
COMMENT ON COLUMN people.nickname IS 'shown in the header';
ALTER TABLE people ALTER COLUMN nickname SET STATISTICS 200;
CREATE INDEX people_age ON people (age);
CREATE TABLE staff OF person;
