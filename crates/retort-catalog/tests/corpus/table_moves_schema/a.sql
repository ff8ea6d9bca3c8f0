CREATE SCHEMA old; CREATE TABLE old.t (id int, v text); CREATE SCHEMA new;
