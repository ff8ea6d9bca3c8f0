CREATE SCHEMA ids; CREATE SEQUENCE ids.global; CREATE TABLE t (id bigint DEFAULT nextval('ids.global'));
