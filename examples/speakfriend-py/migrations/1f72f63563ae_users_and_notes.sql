-- retort:revision 1f72f63563ae
-- retort:message users and notes

-- retort:up
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
CREATE TABLE public.notes (
    id bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.notes_id_seq) NOT NULL,
    username text NOT NULL,
    body text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE public.users (
    username text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE public.notes ADD CONSTRAINT notes_pkey PRIMARY KEY (id);
ALTER TABLE public.users ADD CONSTRAINT users_pkey PRIMARY KEY (username);
ALTER TABLE public.notes ADD CONSTRAINT notes_body_check CHECK (((length(body) >= 1) AND (length(body) <= 2000)));
ALTER TABLE public.notes ADD CONSTRAINT notes_username_fkey FOREIGN KEY (username) REFERENCES public.users(username) ON DELETE CASCADE;
ALTER TABLE public.users ADD CONSTRAINT users_username_check CHECK (((length(username) >= 1) AND (length(username) <= 64)));
CREATE INDEX notes_by_user ON public.notes USING btree (username, id);

-- retort:down
ALTER TABLE public.notes DROP CONSTRAINT notes_username_fkey;
-- DESTRUCTIVE: drops table public.notes and its data
DROP TABLE public.notes;
-- DESTRUCTIVE: drops table public.users and its data
DROP TABLE public.users;
DROP EXTENSION pgcrypto;
