CREATE TABLE "select" ("from" int, "Mixed Case" text, "quote""d" text, "ünïcödé" int);
