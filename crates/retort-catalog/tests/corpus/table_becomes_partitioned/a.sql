CREATE TABLE m (id int, v text);
