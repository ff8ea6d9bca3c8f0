CREATE TABLE p (a int, b int, PRIMARY KEY (a, b)); CREATE TABLE c (a int, b int, FOREIGN KEY (a, b) REFERENCES p ON DELETE SET NULL (b));
