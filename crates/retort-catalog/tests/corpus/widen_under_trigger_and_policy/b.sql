CREATE TABLE docs (id int PRIMARY KEY, owner varchar(63), title varchar(200));
CREATE FUNCTION docs_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER docs_title BEFORE UPDATE ON docs FOR EACH ROW WHEN (NEW.title IS DISTINCT FROM OLD.title) EXECUTE FUNCTION docs_touch();
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY docs_own ON docs USING (owner = current_user);
