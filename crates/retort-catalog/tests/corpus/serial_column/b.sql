CREATE TABLE t (id serial PRIMARY KEY, b bigserial);
