-- A varchar column compared with an IN list is written by PostgreSQL as an array cast
-- ((ARRAY['a'::character varying, ...])::text[]) that its parser turns into per-element casts
-- when the text is applied again. b.sql puts such lists everywhere an expression can stand.
CREATE DOMAIN public.kind AS varchar(10);
CREATE TABLE public.orders (
    id bigint PRIMARY KEY,
    status varchar(20) NOT NULL,
    kind public.kind,
    tags varchar(5)[],
    code character(2)
);
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (ARRAY['x'::varchar])::text[] inside a body is source text, never rewritten
    RETURN NEW;
END $$;
CREATE TABLE public.order_log (id bigint, status varchar(20));
