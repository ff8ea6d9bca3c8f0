CREATE TEXT SEARCH DICTIONARY words (TEMPLATE = simple, stopwords = english);
CREATE TEXT SEARCH CONFIGURATION words_only (PARSER = default);
ALTER TEXT SEARCH CONFIGURATION words_only ADD MAPPING FOR asciiword, word WITH words;
CREATE TABLE notes (id int PRIMARY KEY, body text);
CREATE INDEX notes_fts ON notes USING gin (to_tsvector('words_only'::regconfig, body));
