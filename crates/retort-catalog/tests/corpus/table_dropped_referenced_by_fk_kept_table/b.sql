CREATE TABLE c (id int, pid int);
