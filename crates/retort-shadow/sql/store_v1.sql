-- retort shadow password store, version 1, as installed before version 2 existed.
--
-- Kept only so that tests can build a version 1 store and upgrade it (upgrade_v1.sql);
-- `retort shadow install` writes version 2 (store.sql + functions.sql).
--
-- The application's login role ({{app_role}}) can set and check passwords through the
-- SECURITY DEFINER functions below and nothing else: it has USAGE on the schema, EXECUTE on
-- these functions, and no privilege at all on the tables. The tables and functions belong to
-- {{owner}}, a role that cannot log in. Every function pins search_path to pg_catalog, pg_temp
-- and names pgcrypto's functions with their schema ({{pgcrypto}}), so nothing the caller
-- creates or puts on its search_path is ever called.
--
-- This file is rendered by `retort shadow install` (or written as a migration with
-- --emit-migration); the double-brace placeholders become quoted names and checked numbers.

DO $guard$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {{app_role_lit}}) THEN
        RAISE EXCEPTION 'the application role % does not exist', {{app_role_lit}}
            USING HINT = 'create it first (CREATE ROLE ' || {{app_role_lit}} || ' LOGIN ...), or install with --app-role ROLE';
    END IF;
    IF {{app_role_lit}} = {{owner_lit}} THEN
        RAISE EXCEPTION 'the store owner and the application role must differ (both are %)', {{owner_lit}};
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
               WHERE e.extname = 'pgcrypto' AND n.nspname <> {{pgcrypto_lit}}) THEN
        RAISE EXCEPTION 'pgcrypto is installed in schema %, not %',
            (SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname = 'pgcrypto'), {{pgcrypto_lit}}
            USING HINT = 'render the store for that schema (retort shadow install --pgcrypto-schema SCHEMA)';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {{owner_lit}}) THEN
        CREATE ROLE {{owner}} NOLOGIN;
    END IF;
END
$guard$;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA {{pgcrypto}};

CREATE SCHEMA {{schema}} AUTHORIZATION {{owner}};
REVOKE ALL ON SCHEMA {{schema}} FROM PUBLIC;
GRANT USAGE ON SCHEMA {{schema}} TO {{app_role}};

-- One row: the store's policy and its server-side secret (for unknown users' fake salts).
CREATE TABLE {{schema}}.settings (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    store_version   integer NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('scram-argon2', 'bcrypt')),
    argon2_m_kib    integer NOT NULL CHECK (argon2_m_kib >= 8),
    argon2_t        integer NOT NULL CHECK (argon2_t >= 1),
    argon2_p        integer NOT NULL CHECK (argon2_p >= 1),
    bcrypt_cost     integer NOT NULL CHECK (bcrypt_cost BETWEEN 4 AND 31),
    max_failures    integer NOT NULL CHECK (max_failures >= 1),
    lockout         interval NOT NULL,
    nonce_ttl       interval NOT NULL,
    secret          bytea NOT NULL,
    dummy_bcrypt    text NOT NULL
);

-- One row per user: the verifier and the login bookkeeping.
CREATE TABLE {{schema}}.passwords (
    username        text PRIMARY KEY CHECK (username <> '' AND octet_length(username) <= 1024),
    algorithm       text NOT NULL CHECK (algorithm IN ('scram-argon2', 'bcrypt')),
    salt            bytea,
    argon2_m_kib    integer,
    argon2_t        integer,
    argon2_p        integer,
    stored_key      bytea,
    server_key      bytea,
    bcrypt_hash     text,
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz,
    CHECK (algorithm <> 'scram-argon2' OR (salt IS NOT NULL AND stored_key IS NOT NULL AND server_key IS NOT NULL
                                           AND argon2_m_kib IS NOT NULL AND argon2_t IS NOT NULL AND argon2_p IS NOT NULL)),
    CHECK (algorithm <> 'bcrypt' OR bcrypt_hash IS NOT NULL)
);

-- One-time server nonces of logins in progress; a nonce is consumed by the login that uses it.
CREATE TABLE {{schema}}.nonces (
    nonce           bytea PRIMARY KEY,
    username        text NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX nonces_expires_at ON {{schema}}.nonces (expires_at);

INSERT INTO {{schema}}.settings (store_version, mode, argon2_m_kib, argon2_t, argon2_p, bcrypt_cost,
                                 max_failures, lockout, nonce_ttl, secret, dummy_bcrypt)
VALUES (1, {{mode_lit}}, {{argon2_m_kib}}, {{argon2_t}}, {{argon2_p}}, {{bcrypt_cost}},
        {{max_failures}}, {{lockout_lit}}::interval, '60 seconds',
        {{pgcrypto}}.gen_random_bytes(32),
        {{pgcrypto}}.crypt(pg_catalog.encode({{pgcrypto}}.gen_random_bytes(24), 'base64'),
                           {{pgcrypto}}.gen_salt('bf', {{bcrypt_cost}})));

ALTER TABLE {{schema}}.settings OWNER TO {{owner}};
ALTER TABLE {{schema}}.passwords OWNER TO {{owner}};
ALTER TABLE {{schema}}.nonces OWNER TO {{owner}};
REVOKE ALL ON {{schema}}.settings, {{schema}}.passwords, {{schema}}.nonces FROM PUBLIC;

-- The policy a client needs before it sets a password (nothing secret).
CREATE FUNCTION {{schema}}.parameters(
    OUT mode text, OUT argon2_m_kib integer, OUT argon2_t integer, OUT argon2_p integer, OUT bcrypt_cost integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT s.mode, s.argon2_m_kib, s.argon2_t, s.argon2_p, s.bcrypt_cost FROM {{schema}}.settings s
$fn$;

-- Stores a SCRAM verifier the client derived; the password never reaches the server.
CREATE FUNCTION {{schema}}.set_scram(p_username text, p_salt bytea, p_m_kib integer, p_t integer, p_p integer,
                                     p_stored_key bytea, p_server_key bytea)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s {{schema}}.settings;
BEGIN
    SELECT * INTO STRICT s FROM {{schema}}.settings;
    IF p_username IS NULL OR p_username = '' THEN
        RAISE EXCEPTION 'user name must not be empty' USING ERRCODE = '22023';
    END IF;
    IF octet_length(p_salt) < 16 OR octet_length(p_stored_key) <> 32 OR octet_length(p_server_key) <> 32 THEN
        RAISE EXCEPTION 'malformed verifier: salt must be at least 16 bytes, keys exactly 32' USING ERRCODE = '22023';
    END IF;
    IF p_m_kib < s.argon2_m_kib OR p_t < s.argon2_t OR p_p < s.argon2_p THEN
        RAISE EXCEPTION 'argon2id parameters m=%, t=%, p=% are weaker than the store''s policy m=%, t=%, p=%',
            p_m_kib, p_t, p_p, s.argon2_m_kib, s.argon2_t, s.argon2_p USING ERRCODE = '22023';
    END IF;
    INSERT INTO {{schema}}.passwords AS p (username, algorithm, salt, argon2_m_kib, argon2_t, argon2_p,
                                           stored_key, server_key, bcrypt_hash, changed_at)
    VALUES (p_username, 'scram-argon2', p_salt, p_m_kib, p_t, p_p, p_stored_key, p_server_key, NULL, now())
    ON CONFLICT (username) DO UPDATE
        SET algorithm = 'scram-argon2', salt = excluded.salt, argon2_m_kib = excluded.argon2_m_kib,
            argon2_t = excluded.argon2_t, argon2_p = excluded.argon2_p, stored_key = excluded.stored_key,
            server_key = excluded.server_key, bcrypt_hash = NULL, changed_at = now();
END
$fn$;

-- Hashes a password with bcrypt inside the database (the classic design: the password is sent).
CREATE FUNCTION {{schema}}.set_bcrypt(p_username text, p_password text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s {{schema}}.settings;
BEGIN
    SELECT * INTO STRICT s FROM {{schema}}.settings;
    IF p_username IS NULL OR p_username = '' THEN
        RAISE EXCEPTION 'user name must not be empty' USING ERRCODE = '22023';
    END IF;
    IF p_password IS NULL OR p_password = '' THEN
        RAISE EXCEPTION 'password must not be empty' USING ERRCODE = '22023';
    END IF;
    IF octet_length(p_password) > 72 THEN
        RAISE EXCEPTION 'password is % bytes long; bcrypt uses only the first 72', octet_length(p_password)
            USING ERRCODE = '22023', HINT = 'use a shorter password, or the scram-argon2 mode, which has no such limit';
    END IF;
    INSERT INTO {{schema}}.passwords AS p (username, algorithm, bcrypt_hash, changed_at)
    VALUES (p_username, 'bcrypt', {{pgcrypto}}.crypt(p_password, {{pgcrypto}}.gen_salt('bf', s.bcrypt_cost)), now())
    ON CONFLICT (username) DO UPDATE
        SET algorithm = 'bcrypt', bcrypt_hash = excluded.bcrypt_hash, salt = NULL, argon2_m_kib = NULL,
            argon2_t = NULL, argon2_p = NULL, stored_key = NULL, server_key = NULL, changed_at = now();
END
$fn$;

-- First half of a login. Known and unknown users get the same answer shape: an unknown user gets
-- a salt derived from the store's secret (the same name always gets the same salt) and the
-- store's mode, so a caller cannot tell that the user does not exist.
CREATE FUNCTION {{schema}}.begin_login(p_username text,
    OUT algorithm text, OUT salt bytea, OUT argon2_m_kib integer, OUT argon2_t integer, OUT argon2_p integer,
    OUT server_nonce bytea)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s {{schema}}.settings;
    p {{schema}}.passwords;
BEGIN
    SELECT * INTO STRICT s FROM {{schema}}.settings;
    SELECT * INTO p FROM {{schema}}.passwords WHERE username = p_username;
    IF FOUND THEN
        algorithm := p.algorithm;
        salt := p.salt;
        argon2_m_kib := p.argon2_m_kib;
        argon2_t := p.argon2_t;
        argon2_p := p.argon2_p;
    ELSE
        algorithm := s.mode;
        salt := substr({{pgcrypto}}.hmac(convert_to('salt:' || coalesce(p_username, ''), 'UTF8'), s.secret, 'sha256'), 1, 16);
        argon2_m_kib := s.argon2_m_kib;
        argon2_t := s.argon2_t;
        argon2_p := s.argon2_p;
    END IF;
    IF algorithm = 'scram-argon2' THEN
        server_nonce := {{pgcrypto}}.gen_random_bytes(18);
        DELETE FROM {{schema}}.nonces n
         WHERE n.ctid = ANY (ARRAY(SELECT o.ctid FROM {{schema}}.nonces o WHERE o.expires_at < now() LIMIT 16));
        INSERT INTO {{schema}}.nonces (nonce, username, expires_at)
        VALUES (server_nonce, coalesce(p_username, ''), now() + s.nonce_ttl);
    ELSE
        salt := NULL;
        argon2_m_kib := NULL;
        argon2_t := NULL;
        argon2_p := NULL;
    END IF;
END
$fn$;

-- Records the outcome of a password check on a known user, atomically (the row is locked), and
-- says whether the account is now locked. Internal: not granted to anyone.
CREATE FUNCTION {{schema}}.record_attempt(p_username text, p_ok boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s {{schema}}.settings;
    failures integer;
BEGIN
    SELECT * INTO STRICT s FROM {{schema}}.settings;
    IF p_ok THEN
        UPDATE {{schema}}.passwords SET failed_attempts = 0, locked_until = NULL, last_login_at = now()
         WHERE username = p_username;
        RETURN 'ok';
    END IF;
    UPDATE {{schema}}.passwords SET failed_attempts = failed_attempts + 1
     WHERE username = p_username
    RETURNING failed_attempts INTO failures;
    IF failures >= s.max_failures THEN
        UPDATE {{schema}}.passwords SET locked_until = now() + s.lockout, failed_attempts = 0
         WHERE username = p_username;
    END IF;
    RETURN 'bad';
END
$fn$;

-- Second half of a SCRAM login: checks the client's proof against the stored key and consumes
-- the server nonce (a replayed call finds no nonce and fails). On success it returns the server
-- signature, which proves to the client that the store holds its verifier.
CREATE FUNCTION {{schema}}.finish_login(p_username text, p_client_nonce bytea, p_server_nonce bytea, p_proof bytea,
    OUT verdict text, OUT server_signature bytea, OUT needs_rehash boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s {{schema}}.settings;
    p {{schema}}.passwords;
    nonce_ok boolean;
    known boolean;
    auth_message bytea;
    stored bytea;
    client_key bytea;
    signature bytea;
    i integer;
BEGIN
    SELECT * INTO STRICT s FROM {{schema}}.settings;
    needs_rehash := false;
    DELETE FROM {{schema}}.nonces n
     WHERE n.nonce = p_server_nonce AND n.username = coalesce(p_username, '') AND n.expires_at >= now();
    nonce_ok := FOUND;
    SELECT * INTO p FROM {{schema}}.passwords WHERE username = p_username FOR UPDATE;
    known := FOUND AND p.algorithm = 'scram-argon2';
    IF known THEN
        stored := p.stored_key;
    ELSE
        -- Unknown users cost the same work against a key nobody can know.
        stored := {{pgcrypto}}.hmac(convert_to('stored:' || coalesce(p_username, ''), 'UTF8'), s.secret, 'sha256');
        p.salt := substr({{pgcrypto}}.hmac(convert_to('salt:' || coalesce(p_username, ''), 'UTF8'), s.secret, 'sha256'), 1, 16);
        p.argon2_m_kib := s.argon2_m_kib;
        p.argon2_t := s.argon2_t;
        p.argon2_p := s.argon2_p;
    END IF;
    -- The same bytes as retort_shadow::scram::auth_message builds on the client.
    auth_message := convert_to('retort-shadow-v1,u=' || encode(convert_to(coalesce(p_username, ''), 'UTF8'), 'hex')
        || ',c=' || encode(coalesce(p_client_nonce, ''::bytea), 'hex')
        || ',s=' || encode(coalesce(p_server_nonce, ''::bytea), 'hex')
        || ',salt=' || encode(p.salt, 'hex')
        || ',m=' || p.argon2_m_kib || ',t=' || p.argon2_t || ',p=' || p.argon2_p, 'UTF8');
    signature := {{pgcrypto}}.hmac(auth_message, stored, 'sha256');
    client_key := signature;
    IF octet_length(coalesce(p_proof, ''::bytea)) = 32 THEN
        FOR i IN 0..31 LOOP
            client_key := set_byte(client_key, i, get_byte(p_proof, i) # get_byte(signature, i));
        END LOOP;
    END IF;
    IF NOT known THEN
        verdict := 'bad';
        RETURN;
    END IF;
    IF p.locked_until IS NOT NULL AND p.locked_until > now() THEN
        verdict := 'locked';
        RETURN;
    END IF;
    IF nonce_ok AND octet_length(p_proof) = 32 AND {{pgcrypto}}.digest(client_key, 'sha256') = stored THEN
        verdict := {{schema}}.record_attempt(p_username, true);
        server_signature := {{pgcrypto}}.hmac(auth_message, p.server_key, 'sha256');
        needs_rehash := p.argon2_m_kib < s.argon2_m_kib OR p.argon2_t < s.argon2_t OR p.argon2_p < s.argon2_p
                        OR s.mode <> 'scram-argon2';
    ELSE
        verdict := {{schema}}.record_attempt(p_username, false);
    END IF;
END
$fn$;

-- Checks a password against a bcrypt hash inside the database. Unknown users are checked against
-- a dummy hash of the same cost, so they take as long as known ones.
CREATE FUNCTION {{schema}}.check_bcrypt(p_username text, p_password text, OUT verdict text, OUT needs_rehash boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s {{schema}}.settings;
    p {{schema}}.passwords;
    known boolean;
    hash text;
    matches boolean;
BEGIN
    SELECT * INTO STRICT s FROM {{schema}}.settings;
    needs_rehash := false;
    SELECT * INTO p FROM {{schema}}.passwords WHERE username = p_username FOR UPDATE;
    known := FOUND AND p.algorithm = 'bcrypt';
    hash := CASE WHEN known THEN p.bcrypt_hash ELSE s.dummy_bcrypt END;
    matches := {{pgcrypto}}.crypt(coalesce(p_password, ''), hash) = hash AND octet_length(p_password) <= 72;
    IF NOT known THEN
        verdict := 'bad';
        RETURN;
    END IF;
    IF p.locked_until IS NOT NULL AND p.locked_until > now() THEN
        verdict := 'locked';
        RETURN;
    END IF;
    verdict := {{schema}}.record_attempt(p_username, matches);
    IF matches THEN
        needs_rehash := substr(hash, 5, 2)::integer < s.bcrypt_cost OR s.mode <> 'bcrypt';
    END IF;
END
$fn$;

-- Locks an account until a time (default: until unlocked).
CREATE FUNCTION {{schema}}.lock(p_username text, p_until timestamptz DEFAULT 'infinity')
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    UPDATE {{schema}}.passwords SET locked_until = p_until WHERE username = p_username RETURNING true
$fn$;

-- Unlocks an account and forgets its failed attempts.
CREATE FUNCTION {{schema}}.unlock(p_username text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    UPDATE {{schema}}.passwords SET locked_until = NULL, failed_attempts = 0 WHERE username = p_username RETURNING true
$fn$;

-- Removes a user's password.
CREATE FUNCTION {{schema}}.delete(p_username text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    DELETE FROM {{schema}}.passwords WHERE username = p_username RETURNING true
$fn$;

-- Whether the stored verifier is weaker than the store's policy (the next successful login
-- through retort's clients replaces it).
CREATE FUNCTION {{schema}}.needs_rehash(p_username text)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE p.algorithm
             WHEN 'scram-argon2' THEN p.argon2_m_kib < s.argon2_m_kib OR p.argon2_t < s.argon2_t
                                      OR p.argon2_p < s.argon2_p OR s.mode <> 'scram-argon2'
             ELSE substr(p.bcrypt_hash, 5, 2)::integer < s.bcrypt_cost OR s.mode <> 'bcrypt'
           END
      FROM {{schema}}.passwords p, {{schema}}.settings s
     WHERE p.username = p_username
$fn$;

ALTER FUNCTION {{schema}}.parameters() OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.set_scram(text, bytea, integer, integer, integer, bytea, bytea) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.set_bcrypt(text, text) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.begin_login(text) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.record_attempt(text, boolean) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.finish_login(text, bytea, bytea, bytea) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.check_bcrypt(text, text) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.lock(text, timestamptz) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.unlock(text) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.delete(text) OWNER TO {{owner}};
ALTER FUNCTION {{schema}}.needs_rehash(text) OWNER TO {{owner}};

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {{schema}} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    {{schema}}.parameters(),
    {{schema}}.set_scram(text, bytea, integer, integer, integer, bytea, bytea),
    {{schema}}.set_bcrypt(text, text),
    {{schema}}.begin_login(text),
    {{schema}}.finish_login(text, bytea, bytea, bytea),
    {{schema}}.check_bcrypt(text, text),
    {{schema}}.lock(text, timestamptz),
    {{schema}}.unlock(text),
    {{schema}}.delete(text),
    {{schema}}.needs_rehash(text)
TO {{app_role}};
