CREATE TABLE c (pid int);
