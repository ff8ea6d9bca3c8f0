CREATE TYPE person AS (name text, age int);
CREATE TABLE people OF person (PRIMARY KEY (name));
