-- A serial column's sequence and its table depend on each other (OWNED BY, DEFAULT nextval);
-- a function taking the table's row type must still come after the table.
CREATE TABLE public.accounts (
    id bigserial PRIMARY KEY,
    status varchar(16) NOT NULL DEFAULT 'active'
);
CREATE FUNCTION public.can_book(acct public.accounts, what varchar DEFAULT 'day')
    RETURNS boolean LANGUAGE sql STABLE
    RETURN acct.status = 'active' AND what <> 'never';
CREATE FUNCTION public.label(acct public.accounts) RETURNS text LANGUAGE sql STABLE
    AS 'SELECT $1.status';
CREATE VIEW public.bookable AS
    SELECT a.id, public.can_book(a) AS ok, public.label(a) AS label FROM public.accounts a;
