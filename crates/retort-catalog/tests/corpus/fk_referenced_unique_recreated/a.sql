CREATE TABLE p (a int, b int, CONSTRAINT p_u UNIQUE (a)); CREATE TABLE c (x int REFERENCES p (a));
