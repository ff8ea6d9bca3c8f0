-- retort shadow password store: version 1 -> version 2, in place (functions.sql follows).
--
-- Users keep their verifiers, failure counts and lockouts. What changes: the application role
-- ({{app_role}}) loses set_scram, set_bcrypt, lock, unlock and delete, which go to the admin role
-- ({{admin_role}}, created NOLOGIN when missing); it gains enrol, change-with-proof and
-- token-bound replacement. Version 1 verifiers are marked normalization = 'none' (their
-- passwords were hashed as raw UTF-8): they log in unchanged and are re-keyed with SASLprep on
-- their next good login.

DO $guard$
DECLARE
    v integer;
BEGIN
    SELECT store_version INTO v FROM {{schema}}.settings;
    IF v IS DISTINCT FROM 1 THEN
        RAISE EXCEPTION 'the shadow store in schema % is at version %, not 1', {{schema_lit}}, v
            USING HINT = 'retort shadow upgrade reads the version and applies only the steps it needs';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {{app_role_lit}}) THEN
        RAISE EXCEPTION 'the application role % does not exist', {{app_role_lit}}
            USING HINT = 'pass the role the application logs in as (--app-role)';
    END IF;
    IF {{app_role_lit}} IN ({{owner_lit}}, {{admin_role_lit}}) OR {{owner_lit}} = {{admin_role_lit}} THEN
        RAISE EXCEPTION 'the store owner (%), the application role (%) and the admin role (%) must be three different roles',
            {{owner_lit}}, {{app_role_lit}}, {{admin_role_lit}};
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

LOCK TABLE {{schema}}.settings, {{schema}}.passwords IN ACCESS EXCLUSIVE MODE;

ALTER TABLE {{schema}}.settings ADD COLUMN reset_ttl interval NOT NULL DEFAULT '1 hour';
ALTER TABLE {{schema}}.passwords
    ADD COLUMN normalization text NOT NULL DEFAULT 'none' CHECK (normalization IN ('none', 'saslprep'));
ALTER TABLE {{schema}}.passwords ALTER COLUMN normalization SET DEFAULT 'saslprep';

CREATE TABLE {{schema}}.tokens (
    token_hash      bytea PRIMARY KEY,
    username        text NOT NULL,
    purpose         text NOT NULL CHECK (purpose IN ('reset', 'rehash')),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX tokens_username ON {{schema}}.tokens (username);
ALTER TABLE {{schema}}.tokens OWNER TO {{owner}};
REVOKE ALL ON {{schema}}.tokens FROM PUBLIC;

DROP FUNCTION {{schema}}.parameters();
DROP FUNCTION {{schema}}.set_scram(text, bytea, integer, integer, integer, bytea, bytea);
DROP FUNCTION {{schema}}.set_bcrypt(text, text);
DROP FUNCTION {{schema}}.begin_login(text);
DROP FUNCTION {{schema}}.finish_login(text, bytea, bytea, bytea);
DROP FUNCTION {{schema}}.check_bcrypt(text, text);
DROP FUNCTION {{schema}}.lock(text, timestamptz);
DROP FUNCTION {{schema}}.unlock(text);
DROP FUNCTION {{schema}}.delete(text);
DROP FUNCTION {{schema}}.needs_rehash(text);
DROP FUNCTION {{schema}}.record_attempt(text, boolean);

GRANT USAGE ON SCHEMA {{schema}} TO {{admin_role}};
UPDATE {{schema}}.settings SET store_version = 2;
