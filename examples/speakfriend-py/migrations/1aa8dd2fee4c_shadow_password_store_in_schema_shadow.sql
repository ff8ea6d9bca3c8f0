-- retort:revision 1aa8dd2fee4c
-- retort:parents 1f72f63563ae
-- retort:message shadow password store in schema shadow

-- retort:up
-- retort shadow password store, version 2: schema, roles and tables (functions.sql follows).
--
-- Three roles, three capability sets (functions.sql grants them):
-- - shadow_owner owns every table and function and cannot log in;
-- - speakfriend_app, the application's login role, may log users in, enrol new users, change a
--   password with proof of the current one, and redeem a reset token. It has USAGE on the
--   schema, EXECUTE on those functions, and no privilege at all on the tables;
-- - shadow_admin (NOLOGIN unless you decide otherwise; grant it to operators) may also set any
--   password, lock, unlock, delete, and issue reset tokens.
-- Every function pins search_path to pg_catalog, pg_temp and names pgcrypto's functions with
-- their schema (public), so nothing a caller creates or puts on its search_path is called.
--
-- This file is rendered by `retort shadow install` (or written as a migration with
-- --emit-migration); the double-brace placeholders become quoted names and checked numbers.

DO $guard$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'speakfriend_app') THEN
        RAISE EXCEPTION 'the application role % does not exist', 'speakfriend_app'
            USING HINT = 'create it first (CREATE ROLE ' || 'speakfriend_app' || ' LOGIN ...), or install with --app-role ROLE';
    END IF;
    IF 'speakfriend_app' IN ('shadow_owner', 'shadow_admin') OR 'shadow_owner' = 'shadow_admin' THEN
        RAISE EXCEPTION 'the store owner (%), the application role (%) and the admin role (%) must be three different roles',
            'shadow_owner', 'speakfriend_app', 'shadow_admin';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
               WHERE e.extname = 'pgcrypto' AND n.nspname <> 'public') THEN
        RAISE EXCEPTION 'pgcrypto is installed in schema %, not %',
            (SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname = 'pgcrypto'), 'public'
            USING HINT = 'render the store for that schema (retort shadow install --pgcrypto-schema SCHEMA)';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'shadow_owner') THEN
        CREATE ROLE shadow_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'shadow_admin') THEN
        CREATE ROLE shadow_admin NOLOGIN;
    END IF;
    IF pg_catalog.pg_has_role('speakfriend_app', 'shadow_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'the application role % is a member of the admin role %, so it would hold every admin capability',
            'speakfriend_app', 'shadow_admin'
            USING HINT = 'REVOKE ' || 'shadow_admin' || ' FROM ' || 'speakfriend_app' || ', or choose another --admin-role';
    END IF;
END
$guard$;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

CREATE SCHEMA shadow AUTHORIZATION shadow_owner;
REVOKE ALL ON SCHEMA shadow FROM PUBLIC;
GRANT USAGE ON SCHEMA shadow TO speakfriend_app, shadow_admin;

-- One row: the store's policy and its server-side secret (for unknown users' fake salts).
CREATE TABLE shadow.settings (
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
    dummy_bcrypt    text NOT NULL,
    reset_ttl       interval NOT NULL DEFAULT '1 hour'
);

-- One row per user: the verifier and the login bookkeeping. `normalization` says how the
-- password was prepared before hashing: 'saslprep' (RFC 4013, every verifier version 2 writes)
-- or 'none' (the raw UTF-8 bytes: version 1 verifiers and imported hashes; the next good login
-- replaces them).
CREATE TABLE shadow.passwords (
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
    CHECK (algorithm <> 'bcrypt' OR bcrypt_hash IS NOT NULL),
    normalization   text NOT NULL DEFAULT 'saslprep' CHECK (normalization IN ('none', 'saslprep'))
);

-- One-time server nonces of logins in progress; a nonce is consumed by the login that uses it.
CREATE TABLE shadow.nonces (
    nonce           bytea PRIMARY KEY,
    username        text NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX nonces_expires_at ON shadow.nonces (expires_at);

-- One-time tokens that allow one replacement of a user's verifier: a password reset issued by
-- an admin, or the rehash that a successful login earns. Only SHA-256 of a token is kept.
CREATE TABLE shadow.tokens (
    token_hash      bytea PRIMARY KEY,
    username        text NOT NULL,
    purpose         text NOT NULL CHECK (purpose IN ('reset', 'rehash')),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX tokens_username ON shadow.tokens (username);

INSERT INTO shadow.settings (store_version, mode, argon2_m_kib, argon2_t, argon2_p, bcrypt_cost,
                                 max_failures, lockout, nonce_ttl, secret, dummy_bcrypt)
VALUES (2, 'scram-argon2', 19456, 2, 1, 12,
        5, '900000 milliseconds'::interval, '60 seconds',
        public.gen_random_bytes(32),
        public.crypt(pg_catalog.encode(public.gen_random_bytes(24), 'base64'),
                           public.gen_salt('bf', 12)));

ALTER TABLE shadow.settings OWNER TO shadow_owner;
ALTER TABLE shadow.passwords OWNER TO shadow_owner;
ALTER TABLE shadow.nonces OWNER TO shadow_owner;
ALTER TABLE shadow.tokens OWNER TO shadow_owner;
REVOKE ALL ON shadow.settings, shadow.passwords, shadow.nonces, shadow.tokens FROM PUBLIC;

-- retort shadow password store, version 2: the functions and who may call them.
--
-- Part of both `retort shadow install` (after store.sql) and `retort shadow upgrade` (after
-- upgrade_v1.sql), so a fresh store and an upgraded one are the same. Three capability sets:
-- login and enrol/change for speakfriend_app, admin for shadow_admin; the rest is internal and
-- granted to no one.

-- ---------------------------------------------------------------------------------------------
-- Internal: the building blocks the granted functions share. Not granted to anyone.

-- Records the outcome of a password check on a known user, atomically (the row is locked), and
-- says whether the account is now locked.
CREATE FUNCTION shadow.record_attempt(p_username text, p_ok boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s shadow.settings;
    failures integer;
BEGIN
    SELECT * INTO STRICT s FROM shadow.settings;
    IF p_ok THEN
        UPDATE shadow.passwords SET failed_attempts = 0, locked_until = NULL, last_login_at = now()
         WHERE username = p_username;
        RETURN 'ok';
    END IF;
    UPDATE shadow.passwords SET failed_attempts = failed_attempts + 1
     WHERE username = p_username
    RETURNING failed_attempts INTO failures;
    IF failures >= s.max_failures THEN
        UPDATE shadow.passwords SET locked_until = now() + s.lockout, failed_attempts = 0
         WHERE username = p_username;
    END IF;
    RETURN 'bad';
END
$fn$;

-- Writes a verifier. p_how: 'enrol' (only when the user has none; false when it has one),
-- 'update' (only an existing user; false when there is none) or 'upsert'. Refuses a malformed
-- verifier or one weaker than the store's policy.
CREATE FUNCTION shadow.store_scram(p_username text, p_salt bytea, p_m_kib integer, p_t integer, p_p integer,
                                       p_stored_key bytea, p_server_key bytea, p_how text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s shadow.settings;
BEGIN
    SELECT * INTO STRICT s FROM shadow.settings;
    IF p_username IS NULL OR p_username = '' THEN
        RAISE EXCEPTION 'user name must not be empty' USING ERRCODE = '22023';
    END IF;
    IF p_salt IS NULL OR p_stored_key IS NULL OR p_server_key IS NULL
       OR octet_length(p_salt) < 16 OR octet_length(p_stored_key) <> 32 OR octet_length(p_server_key) <> 32 THEN
        RAISE EXCEPTION 'malformed verifier: salt must be at least 16 bytes, keys exactly 32' USING ERRCODE = '22023';
    END IF;
    IF p_m_kib IS NULL OR p_t IS NULL OR p_p IS NULL
       OR p_m_kib < s.argon2_m_kib OR p_t < s.argon2_t OR p_p < s.argon2_p THEN
        RAISE EXCEPTION 'argon2id parameters m=%, t=%, p=% are weaker than the store''s policy m=%, t=%, p=%',
            p_m_kib, p_t, p_p, s.argon2_m_kib, s.argon2_t, s.argon2_p USING ERRCODE = '22023';
    END IF;
    IF p_how = 'update' THEN
        UPDATE shadow.passwords
           SET algorithm = 'scram-argon2', salt = p_salt, argon2_m_kib = p_m_kib, argon2_t = p_t, argon2_p = p_p,
               stored_key = p_stored_key, server_key = p_server_key, bcrypt_hash = NULL,
               normalization = 'saslprep', changed_at = now()
         WHERE username = p_username;
        RETURN FOUND;
    END IF;
    INSERT INTO shadow.passwords AS p (username, algorithm, salt, argon2_m_kib, argon2_t, argon2_p,
                                           stored_key, server_key, bcrypt_hash, normalization, changed_at)
    VALUES (p_username, 'scram-argon2', p_salt, p_m_kib, p_t, p_p, p_stored_key, p_server_key, NULL, 'saslprep', now())
    ON CONFLICT (username) DO NOTHING;
    IF FOUND OR p_how = 'enrol' THEN
        RETURN FOUND;
    END IF;
    UPDATE shadow.passwords
       SET algorithm = 'scram-argon2', salt = p_salt, argon2_m_kib = p_m_kib, argon2_t = p_t, argon2_p = p_p,
           stored_key = p_stored_key, server_key = p_server_key, bcrypt_hash = NULL,
           normalization = 'saslprep', changed_at = now()
     WHERE username = p_username;
    RETURN true;
END
$fn$;

-- The bcrypt twin of store_scram: hashes the password inside the database.
CREATE FUNCTION shadow.store_bcrypt(p_username text, p_password text, p_how text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s shadow.settings;
    hash text;
BEGIN
    SELECT * INTO STRICT s FROM shadow.settings;
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
    hash := public.crypt(p_password, public.gen_salt('bf', s.bcrypt_cost));
    IF p_how = 'update' THEN
        UPDATE shadow.passwords
           SET algorithm = 'bcrypt', bcrypt_hash = hash, salt = NULL, argon2_m_kib = NULL, argon2_t = NULL,
               argon2_p = NULL, stored_key = NULL, server_key = NULL, normalization = 'saslprep', changed_at = now()
         WHERE username = p_username;
        RETURN FOUND;
    END IF;
    INSERT INTO shadow.passwords (username, algorithm, bcrypt_hash, normalization, changed_at)
    VALUES (p_username, 'bcrypt', hash, 'saslprep', now())
    ON CONFLICT (username) DO NOTHING;
    IF FOUND OR p_how = 'enrol' THEN
        RETURN FOUND;
    END IF;
    UPDATE shadow.passwords
       SET algorithm = 'bcrypt', bcrypt_hash = hash, salt = NULL, argon2_m_kib = NULL, argon2_t = NULL,
           argon2_p = NULL, stored_key = NULL, server_key = NULL, normalization = 'saslprep', changed_at = now()
     WHERE username = p_username;
    RETURN true;
END
$fn$;

-- A fresh one-time token for a user; only its SHA-256 is kept. A new reset token replaces the
-- user's earlier ones.
CREATE FUNCTION shadow.issue_token(p_username text, p_purpose text, p_ttl interval)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    token text;
BEGIN
    token := encode(public.gen_random_bytes(32), 'hex');
    DELETE FROM shadow.tokens t
     WHERE t.expires_at < now() OR (t.username = p_username AND t.purpose = p_purpose AND p_purpose = 'reset');
    INSERT INTO shadow.tokens (token_hash, username, purpose, expires_at)
    VALUES (public.digest(convert_to(token, 'UTF8'), 'sha256'), p_username, p_purpose, now() + p_ttl);
    RETURN token;
END
$fn$;

-- Consumes a user's unexpired token; true when there was one. A token works once.
CREATE FUNCTION shadow.consume_token(p_username text, p_token text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF p_token IS NULL OR p_username IS NULL THEN
        RETURN false;
    END IF;
    DELETE FROM shadow.tokens t
     WHERE t.token_hash = public.digest(convert_to(p_token, 'UTF8'), 'sha256')
       AND t.username = p_username AND t.expires_at >= now();
    RETURN FOUND;
END
$fn$;

-- Checks a SCRAM proof against the stored key, consumes the server nonce (a replayed call finds
-- no nonce and fails) and records the attempt. On success it returns the server signature,
-- which proves to the client that the store holds its verifier.
CREATE FUNCTION shadow.check_scram_proof(p_username text, p_client_nonce bytea, p_server_nonce bytea, p_proof bytea,
    OUT verdict text, OUT server_signature bytea, OUT needs_rehash boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s shadow.settings;
    p shadow.passwords;
    nonce_ok boolean;
    known boolean;
    auth_message bytea;
    stored bytea;
    client_key bytea;
    signature bytea;
    i integer;
BEGIN
    SELECT * INTO STRICT s FROM shadow.settings;
    needs_rehash := false;
    DELETE FROM shadow.nonces n
     WHERE n.nonce = p_server_nonce AND n.username = coalesce(p_username, '') AND n.expires_at >= now();
    nonce_ok := FOUND;
    SELECT * INTO p FROM shadow.passwords WHERE username = p_username FOR UPDATE;
    known := FOUND AND p.algorithm = 'scram-argon2';
    IF known THEN
        stored := p.stored_key;
    ELSE
        -- Unknown users cost the same work against a key nobody can know.
        stored := public.hmac(convert_to('stored:' || coalesce(p_username, ''), 'UTF8'), s.secret, 'sha256');
        p.salt := substr(public.hmac(convert_to('salt:' || coalesce(p_username, ''), 'UTF8'), s.secret, 'sha256'), 1, 16);
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
    signature := public.hmac(auth_message, stored, 'sha256');
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
    IF nonce_ok AND octet_length(p_proof) = 32 AND public.digest(client_key, 'sha256') = stored THEN
        verdict := shadow.record_attempt(p_username, true);
        server_signature := public.hmac(auth_message, p.server_key, 'sha256');
        needs_rehash := p.argon2_m_kib < s.argon2_m_kib OR p.argon2_t < s.argon2_t OR p.argon2_p < s.argon2_p
                        OR s.mode <> 'scram-argon2' OR p.normalization <> 'saslprep';
    ELSE
        verdict := shadow.record_attempt(p_username, false);
    END IF;
END
$fn$;

-- Checks a password against a bcrypt hash inside the database and records the attempt. Unknown
-- users are checked against a dummy hash of the same cost, so they take as long as known ones.
CREATE FUNCTION shadow.check_bcrypt_password(p_username text, p_password text,
    OUT verdict text, OUT needs_rehash boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s shadow.settings;
    p shadow.passwords;
    known boolean;
    hash text;
    matches boolean;
BEGIN
    SELECT * INTO STRICT s FROM shadow.settings;
    needs_rehash := false;
    SELECT * INTO p FROM shadow.passwords WHERE username = p_username FOR UPDATE;
    known := FOUND AND p.algorithm = 'bcrypt';
    -- $2b$ and $2y$ (imported) are $2a$'s algorithm under other names; pgcrypto knows only $2a$.
    hash := '$2a$' || substr(CASE WHEN known THEN p.bcrypt_hash ELSE s.dummy_bcrypt END, 5);
    matches := public.crypt(coalesce(p_password, ''), hash) = hash AND octet_length(p_password) <= 72;
    IF NOT known THEN
        verdict := 'bad';
        RETURN;
    END IF;
    IF p.locked_until IS NOT NULL AND p.locked_until > now() THEN
        verdict := 'locked';
        RETURN;
    END IF;
    verdict := shadow.record_attempt(p_username, matches);
    IF matches THEN
        needs_rehash := substr(hash, 5, 2)::integer < s.bcrypt_cost OR s.mode <> 'bcrypt'
                        OR p.normalization <> 'saslprep' OR substr(p.bcrypt_hash, 1, 4) <> '$2a$';
    END IF;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Login (application role).

-- The policy a client needs before it sets a password (nothing secret).
CREATE FUNCTION shadow.parameters(
    OUT mode text, OUT argon2_m_kib integer, OUT argon2_t integer, OUT argon2_p integer, OUT bcrypt_cost integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT s.mode, s.argon2_m_kib, s.argon2_t, s.argon2_p, s.bcrypt_cost FROM shadow.settings s
$fn$;

-- First half of a login. Known and unknown users get the same answer shape: an unknown user gets
-- a salt derived from the store's secret (the same name always gets the same salt) and the
-- store's mode, so a caller cannot tell that the user does not exist.
CREATE FUNCTION shadow.begin_login(p_username text,
    OUT algorithm text, OUT salt bytea, OUT argon2_m_kib integer, OUT argon2_t integer, OUT argon2_p integer,
    OUT server_nonce bytea, OUT normalization text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s shadow.settings;
    p shadow.passwords;
BEGIN
    SELECT * INTO STRICT s FROM shadow.settings;
    SELECT * INTO p FROM shadow.passwords WHERE username = p_username;
    IF FOUND THEN
        algorithm := p.algorithm;
        salt := p.salt;
        argon2_m_kib := p.argon2_m_kib;
        argon2_t := p.argon2_t;
        argon2_p := p.argon2_p;
        normalization := p.normalization;
    ELSE
        algorithm := s.mode;
        salt := substr(public.hmac(convert_to('salt:' || coalesce(p_username, ''), 'UTF8'), s.secret, 'sha256'), 1, 16);
        argon2_m_kib := s.argon2_m_kib;
        argon2_t := s.argon2_t;
        argon2_p := s.argon2_p;
        normalization := 'saslprep';
    END IF;
    IF algorithm = 'scram-argon2' THEN
        server_nonce := public.gen_random_bytes(18);
        DELETE FROM shadow.nonces n
         WHERE n.ctid = ANY (ARRAY(SELECT o.ctid FROM shadow.nonces o WHERE o.expires_at < now() LIMIT 16));
        INSERT INTO shadow.nonces (nonce, username, expires_at)
        VALUES (server_nonce, coalesce(p_username, ''), now() + s.nonce_ttl);
    ELSE
        salt := NULL;
        argon2_m_kib := NULL;
        argon2_t := NULL;
        argon2_p := NULL;
    END IF;
END
$fn$;

-- Second half of a SCRAM login. When the verifier is weaker than the policy, a successful login
-- also returns a one-time rehash token: the only way the application may replace the verifier
-- (replace_scram/replace_bcrypt), within nonce_ttl, as part of this login.
CREATE FUNCTION shadow.finish_login(p_username text, p_client_nonce bytea, p_server_nonce bytea, p_proof bytea,
    OUT verdict text, OUT server_signature bytea, OUT needs_rehash boolean, OUT rehash_token text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ttl interval;
BEGIN
    SELECT c.verdict, c.server_signature, c.needs_rehash INTO verdict, server_signature, needs_rehash
      FROM shadow.check_scram_proof(p_username, p_client_nonce, p_server_nonce, p_proof) c;
    IF verdict = 'ok' AND needs_rehash THEN
        SELECT s.nonce_ttl INTO STRICT ttl FROM shadow.settings s;
        rehash_token := shadow.issue_token(p_username, 'rehash', ttl);
    END IF;
END
$fn$;

-- A bcrypt login (the password is sent); a rehash token as in finish_login.
CREATE FUNCTION shadow.check_bcrypt(p_username text, p_password text,
    OUT verdict text, OUT needs_rehash boolean, OUT rehash_token text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ttl interval;
BEGIN
    SELECT c.verdict, c.needs_rehash INTO verdict, needs_rehash
      FROM shadow.check_bcrypt_password(p_username, p_password) c;
    IF verdict = 'ok' AND needs_rehash THEN
        SELECT s.nonce_ttl INTO STRICT ttl FROM shadow.settings s;
        rehash_token := shadow.issue_token(p_username, 'rehash', ttl);
    END IF;
END
$fn$;

-- Whether the stored verifier is weaker than the store's policy (the next successful login
-- through retort's clients replaces it).
CREATE FUNCTION shadow.needs_rehash(p_username text)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT p.normalization <> 'saslprep' OR CASE p.algorithm
             WHEN 'scram-argon2' THEN p.argon2_m_kib < s.argon2_m_kib OR p.argon2_t < s.argon2_t
                                      OR p.argon2_p < s.argon2_p OR s.mode <> 'scram-argon2'
             ELSE substr(p.bcrypt_hash, 5, 2)::integer < s.bcrypt_cost OR s.mode <> 'bcrypt'
                  OR substr(p.bcrypt_hash, 1, 4) <> '$2a$'
           END
      FROM shadow.passwords p, shadow.settings s
     WHERE p.username = p_username
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Enrol and change (application role).

-- Sign-up: a SCRAM verifier for a user that has no password yet. False when it has one (an
-- existing user's verifier is never replaced this way).
CREATE FUNCTION shadow.enrol_scram(p_username text, p_salt bytea, p_m_kib integer, p_t integer, p_p integer,
                                       p_stored_key bytea, p_server_key bytea)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT shadow.store_scram(p_username, p_salt, p_m_kib, p_t, p_p, p_stored_key, p_server_key, 'enrol')
$fn$;

-- Sign-up in bcrypt mode.
CREATE FUNCTION shadow.enrol_bcrypt(p_username text, p_password text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT shadow.store_bcrypt(p_username, p_password, 'enrol')
$fn$;

-- Changes a password in one call: a SCRAM proof of the current password over a fresh nonce
-- (from begin_login), and the new verifier. A wrong proof counts as a failed login and changes
-- nothing; a locked account changes nothing.
CREATE FUNCTION shadow.change_scram(p_username text, p_client_nonce bytea, p_server_nonce bytea, p_proof bytea,
    p_salt bytea, p_m_kib integer, p_t integer, p_p integer, p_stored_key bytea, p_server_key bytea,
    OUT verdict text, OUT server_signature bytea)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    SELECT c.verdict, c.server_signature INTO verdict, server_signature
      FROM shadow.check_scram_proof(p_username, p_client_nonce, p_server_nonce, p_proof) c;
    IF verdict = 'ok' THEN
        PERFORM shadow.store_scram(p_username, p_salt, p_m_kib, p_t, p_p, p_stored_key, p_server_key, 'update');
    END IF;
END
$fn$;

-- Changes a password in bcrypt mode: the current password and the new one, in one call.
CREATE FUNCTION shadow.change_bcrypt(p_username text, p_current text, p_new text, OUT verdict text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    SELECT c.verdict INTO verdict FROM shadow.check_bcrypt_password(p_username, p_current) c;
    IF verdict = 'ok' THEN
        PERFORM shadow.store_bcrypt(p_username, p_new, 'update');
    END IF;
END
$fn$;

-- Replaces a verifier with a one-time token: a reset token an admin issued, or the rehash token
-- of a successful login. False (and nothing changed) when the token is wrong, used or expired.
CREATE FUNCTION shadow.replace_scram(p_username text, p_token text, p_salt bytea, p_m_kib integer, p_t integer,
                                         p_p integer, p_stored_key bytea, p_server_key bytea)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT shadow.consume_token(p_username, p_token) THEN
        RETURN false;
    END IF;
    RETURN shadow.store_scram(p_username, p_salt, p_m_kib, p_t, p_p, p_stored_key, p_server_key, 'update');
END
$fn$;

-- replace_scram in bcrypt mode.
CREATE FUNCTION shadow.replace_bcrypt(p_username text, p_token text, p_password text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT shadow.consume_token(p_username, p_token) THEN
        RETURN false;
    END IF;
    RETURN shadow.store_bcrypt(p_username, p_password, 'update');
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Admin (shadow_admin only).

-- Sets or replaces any user's SCRAM verifier; the password never reaches the server.
CREATE FUNCTION shadow.set_scram(p_username text, p_salt bytea, p_m_kib integer, p_t integer, p_p integer,
                                     p_stored_key bytea, p_server_key bytea)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT shadow.store_scram(p_username, p_salt, p_m_kib, p_t, p_p, p_stored_key, p_server_key, 'upsert');
$fn$;

-- Sets or replaces any user's password in bcrypt mode.
CREATE FUNCTION shadow.set_bcrypt(p_username text, p_password text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT shadow.store_bcrypt(p_username, p_password, 'upsert');
$fn$;

-- Locks an account until a time (default: until unlocked).
CREATE FUNCTION shadow.lock(p_username text, p_until timestamptz DEFAULT 'infinity')
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    UPDATE shadow.passwords SET locked_until = p_until WHERE username = p_username RETURNING true
$fn$;

-- Unlocks an account and forgets its failed attempts.
CREATE FUNCTION shadow.unlock(p_username text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    UPDATE shadow.passwords SET locked_until = NULL, failed_attempts = 0 WHERE username = p_username RETURNING true
$fn$;

-- Removes a user's password and any token of theirs.
CREATE FUNCTION shadow.delete(p_username text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    DELETE FROM shadow.tokens WHERE username = p_username;
    DELETE FROM shadow.passwords WHERE username = p_username RETURNING true
$fn$;

-- A one-time password reset token for a user who has a password (NULL otherwise), valid for
-- p_ttl (default: the store's reset_ttl). Hand it to the user (an e-mailed link); the
-- application redeems it with replace_scram/replace_bcrypt. Only its hash is stored.
CREATE FUNCTION shadow.issue_reset_token(p_username text, p_ttl interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s shadow.settings;
BEGIN
    SELECT * INTO STRICT s FROM shadow.settings;
    IF NOT EXISTS (SELECT FROM shadow.passwords WHERE username = p_username) THEN
        RETURN NULL;
    END IF;
    IF p_ttl IS NOT NULL AND p_ttl <= interval '0' THEN
        RAISE EXCEPTION 'a reset token must be valid for longer than 0' USING ERRCODE = '22023';
    END IF;
    RETURN shadow.issue_token(p_username, 'reset', coalesce(p_ttl, s.reset_ttl));
END
$fn$;

-- Imports bcrypt hashes written elsewhere ($2a$, $2b$, $2y$) for users that have no password yet.
-- Returns the names that were not imported because the store already has a password for them.
-- Those users log in through check_bcrypt and are moved to the store's mode on their first good
-- login.
CREATE FUNCTION shadow.import_bcrypt(p_usernames text[], p_hashes text[])
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF coalesce(array_length(p_usernames, 1), 0) <> coalesce(array_length(p_hashes, 1), 0) THEN
        RAISE EXCEPTION 'import_bcrypt: % names but % hashes', array_length(p_usernames, 1), array_length(p_hashes, 1)
            USING ERRCODE = '22023';
    END IF;
    -- (A bounded repetition like {53} makes PostgreSQL's regex three times slower; length does it.)
    IF EXISTS (SELECT FROM unnest(p_hashes) h
               WHERE h IS NULL OR h !~ '^\$2[aby]\$[0-3][0-9]\$[./A-Za-z0-9]+$' OR length(h) <> 60
                  OR substr(h, 5, 2)::integer NOT BETWEEN 4 AND 31) THEN
        RAISE EXCEPTION 'import_bcrypt: not every hash is a bcrypt hash ($2a$, $2b$ or $2y$, cost 04-31, 60 characters)'
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    WITH input AS (
        SELECT u.username, u.hash FROM unnest(p_usernames, p_hashes) AS u(username, hash)
    ), inserted AS (
        INSERT INTO shadow.passwords (username, algorithm, bcrypt_hash, normalization, changed_at)
        SELECT i.username, 'bcrypt', i.hash, 'none', now() FROM input i
        ON CONFLICT (username) DO NOTHING
        RETURNING username
    )
    SELECT i.username FROM input i WHERE NOT EXISTS (SELECT FROM inserted n WHERE n.username = i.username);
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Owners and grants: internal functions for no one, login and enrol/change for the application,
-- all of those and the admin functions for the admin role.

ALTER FUNCTION shadow.record_attempt(text, boolean) OWNER TO shadow_owner;
ALTER FUNCTION shadow.store_scram(text, bytea, integer, integer, integer, bytea, bytea, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.store_bcrypt(text, text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.issue_token(text, text, interval) OWNER TO shadow_owner;
ALTER FUNCTION shadow.consume_token(text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.check_scram_proof(text, bytea, bytea, bytea) OWNER TO shadow_owner;
ALTER FUNCTION shadow.check_bcrypt_password(text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.parameters() OWNER TO shadow_owner;
ALTER FUNCTION shadow.begin_login(text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.finish_login(text, bytea, bytea, bytea) OWNER TO shadow_owner;
ALTER FUNCTION shadow.check_bcrypt(text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.needs_rehash(text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.enrol_scram(text, bytea, integer, integer, integer, bytea, bytea) OWNER TO shadow_owner;
ALTER FUNCTION shadow.enrol_bcrypt(text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.change_scram(text, bytea, bytea, bytea, bytea, integer, integer, integer, bytea, bytea) OWNER TO shadow_owner;
ALTER FUNCTION shadow.change_bcrypt(text, text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.replace_scram(text, text, bytea, integer, integer, integer, bytea, bytea) OWNER TO shadow_owner;
ALTER FUNCTION shadow.replace_bcrypt(text, text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.set_scram(text, bytea, integer, integer, integer, bytea, bytea) OWNER TO shadow_owner;
ALTER FUNCTION shadow.set_bcrypt(text, text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.lock(text, timestamptz) OWNER TO shadow_owner;
ALTER FUNCTION shadow.unlock(text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.delete(text) OWNER TO shadow_owner;
ALTER FUNCTION shadow.issue_reset_token(text, interval) OWNER TO shadow_owner;
ALTER FUNCTION shadow.import_bcrypt(text[], text[]) OWNER TO shadow_owner;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA shadow FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    shadow.parameters(),
    shadow.begin_login(text),
    shadow.finish_login(text, bytea, bytea, bytea),
    shadow.check_bcrypt(text, text),
    shadow.needs_rehash(text),
    shadow.enrol_scram(text, bytea, integer, integer, integer, bytea, bytea),
    shadow.enrol_bcrypt(text, text),
    shadow.change_scram(text, bytea, bytea, bytea, bytea, integer, integer, integer, bytea, bytea),
    shadow.change_bcrypt(text, text, text),
    shadow.replace_scram(text, text, bytea, integer, integer, integer, bytea, bytea),
    shadow.replace_bcrypt(text, text, text)
TO speakfriend_app, shadow_admin;
GRANT EXECUTE ON FUNCTION
    shadow.set_scram(text, bytea, integer, integer, integer, bytea, bytea),
    shadow.set_bcrypt(text, text),
    shadow.lock(text, timestamptz),
    shadow.unlock(text),
    shadow.delete(text),
    shadow.issue_reset_token(text, interval),
    shadow.import_bcrypt(text[], text[])
TO shadow_admin;

-- retort:down
DROP SCHEMA shadow CASCADE;
