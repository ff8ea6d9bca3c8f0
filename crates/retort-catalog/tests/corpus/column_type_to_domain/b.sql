CREATE DOMAIN email AS text; CREATE TABLE u (e email);
