CREATE TABLE m (id int NOT NULL, region text NOT NULL, v varchar(10)) PARTITION BY LIST (region);
CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu');
CREATE INDEX m_v ON m (lower(v));
ALTER INDEX m_eu_lower_idx RENAME TO m_eu_custom;
