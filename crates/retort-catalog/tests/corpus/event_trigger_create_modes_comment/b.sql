CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tag text NOT NULL);
CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'ddl: %', tg_tag;
END $$;
CREATE FUNCTION note_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'dropped: %', tg_tag;
END $$;
CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION note_ddl();
ALTER EVENT TRIGGER log_ddl DISABLE;
COMMENT ON EVENT TRIGGER log_ddl IS 'paused while we migrate';
CREATE EVENT TRIGGER "Log Drops" ON sql_drop WHEN TAG IN ('DROP TABLE', 'drop function')
  EXECUTE FUNCTION note_drop();
ALTER EVENT TRIGGER "Log Drops" ENABLE ALWAYS;
CREATE EVENT TRIGGER replica_rewrites ON table_rewrite EXECUTE FUNCTION note_ddl();
ALTER EVENT TRIGGER replica_rewrites ENABLE REPLICA;
