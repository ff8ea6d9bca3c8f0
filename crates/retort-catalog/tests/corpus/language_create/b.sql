-- A language of one's own on plpgsql's handlers (superuser), with privileges, a comment and a
-- function written in it.
CREATE TRUSTED LANGUAGE plscript HANDLER plpgsql_call_handler INLINE plpgsql_inline_handler
    VALIDATOR plpgsql_validator;
COMMENT ON LANGUAGE plscript IS 'plpgsql under another name';
REVOKE USAGE ON LANGUAGE plscript FROM PUBLIC;
GRANT USAGE ON LANGUAGE plscript TO app_user;
CREATE FUNCTION answer() RETURNS integer LANGUAGE plscript AS $$ BEGIN RETURN 42; END $$;
