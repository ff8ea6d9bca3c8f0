CREATE COLLATION loose (provider = icu, locale = 'und-u-ks-level1', deterministic = false);
CREATE TABLE tags (id int PRIMARY KEY, label text COLLATE loose NOT NULL, note text COLLATE loose);
CREATE INDEX tags_label ON tags (label);
CREATE VIEW tag_labels AS SELECT label FROM tags;
