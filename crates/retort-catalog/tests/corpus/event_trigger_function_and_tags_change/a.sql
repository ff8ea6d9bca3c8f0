CREATE SCHEMA ops;
CREATE FUNCTION ops.guard() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'guard: %', tg_tag;
END $$;
CREATE EVENT TRIGGER guard_ddl ON ddl_command_start WHEN TAG IN ('DROP TABLE') EXECUTE FUNCTION ops.guard();
CREATE EVENT TRIGGER watch ON ddl_command_end EXECUTE FUNCTION ops.guard();
