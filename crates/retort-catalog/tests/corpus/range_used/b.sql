CREATE TYPE tr AS RANGE (SUBTYPE = time); CREATE TABLE shifts (during tr);
