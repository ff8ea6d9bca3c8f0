CREATE DOMAIN pct AS int; CREATE TABLE t (p pct);
