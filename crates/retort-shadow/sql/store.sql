-- retort shadow password store, version 2: schema, roles and tables (functions.sql follows).
--
-- Three roles, three capability sets (functions.sql grants them):
-- - {{owner}} owns every table and function and cannot log in;
-- - {{app_role}}, the application's login role, may log users in, enrol new users, change a
--   password with proof of the current one, and redeem a reset token. It has USAGE on the
--   schema, EXECUTE on those functions, and no privilege at all on the tables;
-- - {{admin_role}} (NOLOGIN unless you decide otherwise; grant it to operators) may also set any
--   password, lock, unlock, delete, and issue reset tokens.
-- Every function pins search_path to pg_catalog, pg_temp and names pgcrypto's functions with
-- their schema ({{pgcrypto}}), so nothing a caller creates or puts on its search_path is called.
--
-- This file is rendered by `retort shadow install` (or written as a migration with
-- --emit-migration); the double-brace placeholders become quoted names and checked numbers.

DO $guard$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {{app_role_lit}}) THEN
        RAISE EXCEPTION 'the application role % does not exist', {{app_role_lit}}
            USING HINT = 'create it first (CREATE ROLE ' || {{app_role_lit}} || ' LOGIN ...), or install with --app-role ROLE';
    END IF;
    IF {{app_role_lit}} IN ({{owner_lit}}, {{admin_role_lit}}) OR {{owner_lit}} = {{admin_role_lit}} THEN
        RAISE EXCEPTION 'the store owner (%), the application role (%) and the admin role (%) must be three different roles',
            {{owner_lit}}, {{app_role_lit}}, {{admin_role_lit}};
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
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {{admin_role_lit}}) THEN
        CREATE ROLE {{admin_role}} NOLOGIN;
    END IF;
    IF pg_catalog.pg_has_role({{app_role_lit}}, {{admin_role_lit}}, 'MEMBER') THEN
        RAISE EXCEPTION 'the application role % is a member of the admin role %, so it would hold every admin capability',
            {{app_role_lit}}, {{admin_role_lit}}
            USING HINT = 'REVOKE ' || {{admin_role_lit}} || ' FROM ' || {{app_role_lit}} || ', or choose another --admin-role';
    END IF;
END
$guard$;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA {{pgcrypto}};

CREATE SCHEMA {{schema}} AUTHORIZATION {{owner}};
REVOKE ALL ON SCHEMA {{schema}} FROM PUBLIC;
GRANT USAGE ON SCHEMA {{schema}} TO {{app_role}}, {{admin_role}};

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
    dummy_bcrypt    text NOT NULL,
    reset_ttl       interval NOT NULL DEFAULT '1 hour'
);

-- One row per user: the verifier and the login bookkeeping. `normalization` says how the
-- password was prepared before hashing: 'saslprep' (RFC 4013, every verifier version 2 writes)
-- or 'none' (the raw UTF-8 bytes: version 1 verifiers and imported hashes; the next good login
-- replaces them).
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
    CHECK (algorithm <> 'bcrypt' OR bcrypt_hash IS NOT NULL),
    normalization   text NOT NULL DEFAULT 'saslprep' CHECK (normalization IN ('none', 'saslprep'))
);

-- One-time server nonces of logins in progress; a nonce is consumed by the login that uses it.
CREATE TABLE {{schema}}.nonces (
    nonce           bytea PRIMARY KEY,
    username        text NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX nonces_expires_at ON {{schema}}.nonces (expires_at);

-- One-time tokens that allow one replacement of a user's verifier: a password reset issued by
-- an admin, or the rehash that a successful login earns. Only SHA-256 of a token is kept.
CREATE TABLE {{schema}}.tokens (
    token_hash      bytea PRIMARY KEY,
    username        text NOT NULL,
    purpose         text NOT NULL CHECK (purpose IN ('reset', 'rehash')),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX tokens_username ON {{schema}}.tokens (username);

INSERT INTO {{schema}}.settings (store_version, mode, argon2_m_kib, argon2_t, argon2_p, bcrypt_cost,
                                 max_failures, lockout, nonce_ttl, secret, dummy_bcrypt)
VALUES (2, {{mode_lit}}, {{argon2_m_kib}}, {{argon2_t}}, {{argon2_p}}, {{bcrypt_cost}},
        {{max_failures}}, {{lockout_lit}}::interval, '60 seconds',
        {{pgcrypto}}.gen_random_bytes(32),
        {{pgcrypto}}.crypt(pg_catalog.encode({{pgcrypto}}.gen_random_bytes(24), 'base64'),
                           {{pgcrypto}}.gen_salt('bf', {{bcrypt_cost}})));

ALTER TABLE {{schema}}.settings OWNER TO {{owner}};
ALTER TABLE {{schema}}.passwords OWNER TO {{owner}};
ALTER TABLE {{schema}}.nonces OWNER TO {{owner}};
ALTER TABLE {{schema}}.tokens OWNER TO {{owner}};
REVOKE ALL ON {{schema}}.settings, {{schema}}.passwords, {{schema}}.nonces, {{schema}}.tokens FROM PUBLIC;
