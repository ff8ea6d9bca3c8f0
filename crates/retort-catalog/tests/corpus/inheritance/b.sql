CREATE TABLE base (id int); CREATE TABLE child (extra text) INHERITS (base);
