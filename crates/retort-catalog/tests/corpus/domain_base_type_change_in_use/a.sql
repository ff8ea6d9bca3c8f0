CREATE DOMAIN code AS varchar(5); CREATE TABLE c (x code);
