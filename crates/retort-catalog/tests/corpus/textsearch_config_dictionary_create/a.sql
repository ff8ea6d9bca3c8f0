CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text);
