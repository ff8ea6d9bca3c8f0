CREATE SCHEMA old; CREATE SCHEMA new; CREATE TABLE new.t (id int, v text);
