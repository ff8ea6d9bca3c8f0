-- Comments on partitions' attached indexes, set, changed and dropped (one on an index the
-- script renames).
CREATE TABLE readings (at date NOT NULL, device integer) PARTITION BY RANGE (at);
CREATE TABLE readings_2024 PARTITION OF readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX readings_device ON readings (device);
ALTER INDEX readings_2025_device_idx RENAME TO readings_2025_by_device;
COMMENT ON INDEX readings_2025_by_device IS 'hot: on fast disks';
COMMENT ON INDEX readings_device IS 'every partition';
