-- A column default calling a SQL-standard function that reads the same table, directly or
-- through a view: the table cannot be created with that default before the function exists,
-- nor the function before the table.
CREATE TABLE public.tickets (id bigint PRIMARY KEY, n bigint, label text DEFAULT 'new');
CREATE FUNCTION public.next_n() RETURNS bigint LANGUAGE sql STABLE
    RETURN (SELECT coalesce(max(n), 0) + 1 FROM public.tickets);
ALTER TABLE public.tickets ALTER COLUMN n SET DEFAULT public.next_n();
CREATE TABLE public.orders (id bigint PRIMARY KEY, seq int);
CREATE VIEW public.order_ids AS SELECT id FROM public.orders;
CREATE FUNCTION public.order_count() RETURNS int LANGUAGE sql STABLE
    RETURN (SELECT count(*)::int FROM public.order_ids);
ALTER TABLE public.orders ALTER COLUMN seq SET DEFAULT public.order_count();
