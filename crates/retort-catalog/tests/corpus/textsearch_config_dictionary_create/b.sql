CREATE SCHEMA search;
CREATE TEXT SEARCH DICTIONARY search.english_keep_stopwords (TEMPLATE = snowball, language = english);
COMMENT ON TEXT SEARCH DICTIONARY search.english_keep_stopwords IS 'stems, keeps stop words';
CREATE TEXT SEARCH DICTIONARY search."Simple Lower" (TEMPLATE = pg_catalog.simple, accept = false);
CREATE TEXT SEARCH CONFIGURATION search.app_english (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION search.app_english
  ALTER MAPPING FOR asciiword, word WITH search."Simple Lower", search.english_keep_stopwords;
ALTER TEXT SEARCH CONFIGURATION search.app_english DROP MAPPING FOR email, url, url_path;
COMMENT ON TEXT SEARCH CONFIGURATION search.app_english IS 'what the search box uses';
CREATE TEXT SEARCH CONFIGURATION public.bare (PARSER = "default");
CREATE TABLE docs (
  id int PRIMARY KEY, title text NOT NULL, body text,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('search.app_english', coalesce(title, '') || ' ' || coalesce(body, ''))) STORED
);
CREATE INDEX docs_body_fts ON docs USING gin (to_tsvector('search.app_english'::regconfig, body));
CREATE INDEX docs_tsv ON docs USING gin (tsv);
