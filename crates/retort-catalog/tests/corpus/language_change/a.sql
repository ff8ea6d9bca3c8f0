-- The handlers of a language no extension owns are functions of one's own; these reach into
-- plpgsql's library (superuser).
CREATE FUNCTION script_handler() RETURNS language_handler LANGUAGE c AS '$libdir/plpgsql', 'plpgsql_call_handler';
CREATE FUNCTION script_inline(internal) RETURNS void LANGUAGE c STRICT AS '$libdir/plpgsql', 'plpgsql_inline_handler';
CREATE FUNCTION script_validator(oid) RETURNS void LANGUAGE c STRICT AS '$libdir/plpgsql', 'plpgsql_validator';
CREATE LANGUAGE plscript HANDLER script_handler VALIDATOR script_validator;
CREATE FUNCTION answer() RETURNS integer LANGUAGE plscript AS $$ BEGIN RETURN 42; END $$;
CREATE LANGUAGE plold HANDLER script_handler;
CREATE FUNCTION old_answer() RETURNS integer LANGUAGE plold AS $$ BEGIN RETURN 41; END $$;
