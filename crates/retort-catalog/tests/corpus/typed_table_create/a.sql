CREATE TABLE unrelated (id int PRIMARY KEY);
