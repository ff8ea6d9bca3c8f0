CREATE SCHEMA shadow;
CREATE TABLE shadow.passwords (user_id bigint PRIMARY KEY, hash text NOT NULL);
REVOKE ALL ON shadow.passwords FROM PUBLIC;
CREATE FUNCTION shadow.verify(uid bigint, h text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT EXISTS (SELECT 1 FROM shadow.passwords WHERE user_id = uid AND hash = h) $$;
REVOKE ALL ON FUNCTION shadow.verify(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION shadow.verify(bigint, text) TO app_user;
GRANT USAGE ON SCHEMA shadow TO app_user;
