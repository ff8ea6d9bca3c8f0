-- Becomes trusted with an inline handler (CREATE OR REPLACE LANGUAGE keeps its functions);
-- the other language goes with its function.
CREATE TRUSTED LANGUAGE plscript HANDLER plpgsql_call_handler INLINE plpgsql_inline_handler
    VALIDATOR plpgsql_validator;
CREATE FUNCTION answer() RETURNS integer LANGUAGE plscript AS $$ BEGIN RETURN 42; END $$;
COMMENT ON LANGUAGE plscript IS 'now trusted';
