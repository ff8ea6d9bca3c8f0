CREATE TABLE new_name (id int, v text);
