CREATE TABLE t (v int CONSTRAINT v_pos CHECK (v > 0));
