-- The tables, before their defaults call functions that read them.
CREATE TABLE public.tickets (id bigint PRIMARY KEY, n bigint, label text);
CREATE TABLE public.orders (id bigint PRIMARY KEY, seq int);
