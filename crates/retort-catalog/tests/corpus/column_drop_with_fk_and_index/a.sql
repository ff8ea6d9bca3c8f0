CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, pid int REFERENCES p, note text); CREATE INDEX c_pid ON c (pid);
