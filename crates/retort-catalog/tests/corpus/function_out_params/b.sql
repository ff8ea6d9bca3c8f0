CREATE FUNCTION split_name(full_name text, OUT first text, OUT last text) LANGUAGE sql AS $$ SELECT split_part(full_name, ' ', 1), split_part(full_name, ' ', 2) $$;
