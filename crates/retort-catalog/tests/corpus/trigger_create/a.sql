CREATE TABLE t (id int PRIMARY KEY, name text);CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := coalesce(NEW.name, 'x'); RETURN NEW; END $$;
