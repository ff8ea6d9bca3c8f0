CREATE TABLE users (id int PRIMARY KEY); CREATE SCHEMA audit; CREATE TABLE audit.log (user_id int REFERENCES public.users, at timestamptz DEFAULT now());
