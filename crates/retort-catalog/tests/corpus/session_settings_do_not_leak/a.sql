-- The same schema, read by a session whose settings differ from the server's defaults (as
-- `ALTER DATABASE ... SET timezone` would make them): nothing may differ.
SET TimeZone = 'Asia/Kathmandu';
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = 0;
SET bytea_output = 'escape';
SET quote_all_identifiers = on;
CREATE TABLE public.events (
    id bigint PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT '2020-01-02 03:04:05+00',
    local_at timestamp DEFAULT '2020-01-02 03:04:05',
    day date DEFAULT '2020-03-04' CHECK (day > '2019-12-31'),
    span interval DEFAULT '-1 day +02:03:04' CHECK (span < '1 year 2 mons'),
    ratio float8 DEFAULT 0.30000000000000004,
    small float4 DEFAULT 1.1,
    blob bytea DEFAULT '\x00ff'::bytea,
    "Mixed" text DEFAULT 'x',
    CONSTRAINT recent CHECK (at >= '2000-01-01 00:00:00+00')
);
CREATE TABLE public.readings (at timestamptz NOT NULL, v numeric) PARTITION BY RANGE (at);
CREATE TABLE public.readings_2020 PARTITION OF public.readings
    FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2021-01-01 00:00:00+00');
CREATE INDEX events_recent ON public.events (at) WHERE at > '2024-06-01 12:00:00+00';
CREATE VIEW public.late AS
    SELECT id, at + interval '1 hour 30 minutes' AS due, "Mixed"
    FROM public.events WHERE day < date '2030-01-01' AND ratio > 0.1::float8;
