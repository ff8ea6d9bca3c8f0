CREATE TABLE t (id int, flag boolean NOT NULL DEFAULT false);
