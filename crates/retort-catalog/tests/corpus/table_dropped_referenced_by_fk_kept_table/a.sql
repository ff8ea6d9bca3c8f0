CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, pid int REFERENCES p);
