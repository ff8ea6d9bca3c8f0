CREATE TABLE readings (at date NOT NULL, device integer) PARTITION BY RANGE (at);
CREATE TABLE readings_2024 PARTITION OF readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX readings_device ON readings (device);
COMMENT ON INDEX readings_2024_device_idx IS 'cold';
