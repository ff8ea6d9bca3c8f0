CREATE TABLE old_name (id int, v text);
