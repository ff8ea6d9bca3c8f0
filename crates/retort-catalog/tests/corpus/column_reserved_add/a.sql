CREATE TABLE "order" (id int);
