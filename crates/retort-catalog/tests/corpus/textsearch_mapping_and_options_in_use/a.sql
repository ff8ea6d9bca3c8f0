CREATE TEXT SEARCH DICTIONARY english_stem_nostop (TEMPLATE = snowball, language = english, stopwords = english);
CREATE TEXT SEARCH CONFIGURATION site (COPY = english);
ALTER TEXT SEARCH CONFIGURATION site ALTER MAPPING FOR asciiword WITH english_stem_nostop;
CREATE TABLE posts (
  id int PRIMARY KEY, body text,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('site', coalesce(body, ''))) STORED
);
CREATE INDEX posts_fts ON posts USING gin (to_tsvector('site'::regconfig, body));
CREATE VIEW post_search AS SELECT id, to_tsvector('site'::regconfig, body) AS doc FROM posts;
