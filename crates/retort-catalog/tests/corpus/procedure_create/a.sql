CREATE TABLE log (m text);
