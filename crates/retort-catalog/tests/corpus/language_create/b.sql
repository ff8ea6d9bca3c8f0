-- The handlers of a language no extension owns are functions of one's own; these reach into
-- plpgsql's library (superuser).
CREATE FUNCTION script_handler() RETURNS language_handler LANGUAGE c AS '$libdir/plpgsql', 'plpgsql_call_handler';
CREATE FUNCTION script_inline(internal) RETURNS void LANGUAGE c STRICT AS '$libdir/plpgsql', 'plpgsql_inline_handler';
CREATE FUNCTION script_validator(oid) RETURNS void LANGUAGE c STRICT AS '$libdir/plpgsql', 'plpgsql_validator';
CREATE TRUSTED LANGUAGE plscript HANDLER script_handler INLINE script_inline VALIDATOR script_validator;
COMMENT ON LANGUAGE plscript IS 'plpgsql under another name';
REVOKE USAGE ON LANGUAGE plscript FROM PUBLIC;
GRANT USAGE ON LANGUAGE plscript TO app_user;
CREATE FUNCTION answer() RETURNS integer LANGUAGE plscript AS $$ BEGIN RETURN 42; END $$;
