CREATE DOMAIN tag AS text CHECK (VALUE <> ''); CREATE TABLE t (tags tag[]);
