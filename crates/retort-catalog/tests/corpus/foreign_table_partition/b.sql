-- Old partitions live on an archive server: a foreign table as a partition, and a foreign
-- table inheriting from a local one.
CREATE FOREIGN DATA WRAPPER plain_fdw;
CREATE SERVER archive FOREIGN DATA WRAPPER plain_fdw;
CREATE TABLE measurements (at date NOT NULL, value integer) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE FOREIGN TABLE measurements_2023 PARTITION OF measurements
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01') SERVER archive OPTIONS (table_name 'm2023');
CREATE TABLE events (id integer, at date);
CREATE FOREIGN TABLE archived_events () INHERITS (events) SERVER archive;
