CREATE TABLE m (id int, v text) PARTITION BY RANGE (id);
