CREATE TABLE d (tags text[] NOT NULL DEFAULT '{}', meta jsonb DEFAULT '{"a": 1}', grid int[][], vec numeric(10,2)[]);
