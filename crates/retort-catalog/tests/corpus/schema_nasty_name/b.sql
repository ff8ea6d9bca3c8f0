CREATE SCHEMA "My Schema"; CREATE TABLE "My Schema"."Table ""x""" ("col;1" int);
