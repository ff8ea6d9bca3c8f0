CREATE TABLE t (v varchar(100) CHECK (length(v) > 1), w varchar);
CREATE INDEX t_lower ON t (lower(v));
CREATE INDEX t_w ON t (w) WHERE w <> '';
