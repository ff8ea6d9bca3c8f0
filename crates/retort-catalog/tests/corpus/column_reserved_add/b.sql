CREATE TABLE "order" (id int, "user" text, "group" int);
