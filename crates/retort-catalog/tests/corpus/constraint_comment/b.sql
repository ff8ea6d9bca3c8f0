CREATE TABLE t (v int CONSTRAINT v_pos CHECK (v > 0)); COMMENT ON CONSTRAINT v_pos ON t IS 'positive';
