-- A varchar column compared with an IN list is written by PostgreSQL as an array cast
-- ((ARRAY['a'::character varying, ...])::text[]) that its parser turns into per-element casts
-- when the text is applied again. b.sql puts such lists everywhere an expression can stand.
CREATE DOMAIN public.kind AS varchar(10) CHECK (VALUE IN ('retail', 'wholesale'));
CREATE TABLE public.orders (
    id bigint PRIMARY KEY,
    status varchar(20) NOT NULL CHECK (status IN ('new', 'paid', 'shipped')),
    kind public.kind,
    tags varchar(5)[] DEFAULT ARRAY['a'::varchar(3), 'b'],
    code character(2) CHECK (code IN ('xx', 'yy')),
    is_open boolean GENERATED ALWAYS AS (status NOT IN ('shipped', 'void')) STORED,
    CONSTRAINT kind_known CHECK (kind::varchar IN ('retail', 'wholesale') OR kind IS NULL),
    CONSTRAINT status_array CHECK (status = ANY ('{new,paid,shipped}'))
);
CREATE INDEX orders_open ON public.orders (id) WHERE status IN ('new', 'paid');
CREATE INDEX orders_is_paid ON public.orders ((status IN ('paid', 'shipped')));
CREATE VIEW public.open_orders AS
    SELECT id, status FROM public.orders
    WHERE status IN ('new', 'paid') AND (ARRAY['x'::varchar, status])[2] NOT IN ('void');
CREATE MATERIALIZED VIEW public.paid_orders AS
    SELECT id FROM public.orders WHERE status IN ('paid');
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON public.orders USING (status IN ('new', 'paid', 'shipped'))
    WITH CHECK (status NOT IN ('void'));
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (ARRAY['x'::varchar])::text[] inside a body is source text, never rewritten
    RETURN NEW;
END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON public.orders
    FOR EACH ROW WHEN (NEW.status IN ('paid', 'shipped')) EXECUTE FUNCTION public.touch();
CREATE FUNCTION public.is_final(s varchar) RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN s IN ('shipped', 'void');
CREATE FUNCTION public.count_kinds(kinds text[] DEFAULT ARRAY['x'::varchar, 'y'::varchar])
    RETURNS integer LANGUAGE sql IMMUTABLE
    BEGIN ATOMIC
        SELECT cardinality(kinds) WHERE 'x'::varchar IN ('x', 'y');
    END;
CREATE TABLE public.order_log (id bigint, status varchar(20));
CREATE RULE log_paid AS ON UPDATE TO public.orders
    WHERE NEW.status IN ('paid', 'shipped')
    DO ALSO INSERT INTO public.order_log VALUES (NEW.id, NEW.status);
CREATE STATISTICS public.orders_stats ON (status IN ('new', 'paid')), kind FROM public.orders;
