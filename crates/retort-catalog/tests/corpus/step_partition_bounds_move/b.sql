-- The boundary moves from 100 to 150: attaching either partition with its new bounds while
-- the other still has its old ones overlaps.
CREATE TABLE events (id bigint NOT NULL, at integer NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_low PARTITION OF events FOR VALUES FROM (0) TO (150);
CREATE TABLE events_high PARTITION OF events FOR VALUES FROM (150) TO (200);
