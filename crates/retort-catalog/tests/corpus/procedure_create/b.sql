CREATE TABLE log (m text); CREATE PROCEDURE note(msg text) LANGUAGE sql AS $$ INSERT INTO log VALUES (msg) $$;
