CREATE TABLE local_notes (id integer PRIMARY KEY);
