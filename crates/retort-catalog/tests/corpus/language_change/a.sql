CREATE LANGUAGE plscript HANDLER plpgsql_call_handler VALIDATOR plpgsql_validator;
CREATE FUNCTION answer() RETURNS integer LANGUAGE plscript AS $$ BEGIN RETURN 42; END $$;
CREATE LANGUAGE plold HANDLER plpgsql_call_handler;
CREATE FUNCTION old_answer() RETURNS integer LANGUAGE plold AS $$ BEGIN RETURN 41; END $$;
