CREATE TABLE m (id serial, v text);
