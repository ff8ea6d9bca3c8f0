CREATE TABLE p (code text NOT NULL); CREATE UNIQUE INDEX p_code ON p (code); CREATE TABLE c (code text REFERENCES p (code));
