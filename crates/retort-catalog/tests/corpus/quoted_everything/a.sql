CREATE SCHEMA "S p a c e";
