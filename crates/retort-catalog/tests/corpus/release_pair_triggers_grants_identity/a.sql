CREATE TABLE people (id serial PRIMARY KEY, parent_id int REFERENCES people (id), name text NOT NULL, email text);
CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tbl text, op text, at timestamptz DEFAULT now());
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_log (tbl, op) VALUES (TG_ARGV[0], TG_OP);
  RETURN NULL;
END $$;
CREATE TRIGGER people_log AFTER INSERT OR UPDATE OR DELETE ON people FOR EACH ROW EXECUTE FUNCTION log_change('people');
CREATE TRIGGER people_truncate AFTER TRUNCATE ON people FOR EACH STATEMENT EXECUTE FUNCTION log_change('people');
CREATE FUNCTION split_name(full_name text, OUT first text, OUT last text) LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT split_part(full_name, ' ', 1), split_part(full_name, ' ', 2) $$;
CREATE FUNCTION people_named(pattern text) RETURNS TABLE (id int, name text) LANGUAGE sql STABLE AS $$ SELECT id, name FROM people WHERE name LIKE pattern $$;
CREATE FUNCTION first_of(anyarray) RETURNS anyelement LANGUAGE sql IMMUTABLE AS 'SELECT $1[1]';
CREATE PROCEDURE bump(INOUT n int) LANGUAGE plpgsql AS $$ BEGIN n := n + 1; END $$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT SELECT (id, name) ON people TO app_reader;
GRANT ALL ON audit_log TO app_admin WITH GRANT OPTION;
