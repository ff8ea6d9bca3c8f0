CREATE DOMAIN code AS varchar(10); CREATE TABLE c (x code);
