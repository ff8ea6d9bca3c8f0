CREATE TABLE m (id serial, v text) PARTITION BY RANGE (id);
