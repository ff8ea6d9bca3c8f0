CREATE TABLE t (v text CHECK (length(v) > 1), w text);
CREATE INDEX t_lower ON t (lower(v));
CREATE INDEX t_w ON t (w) WHERE w <> '';
