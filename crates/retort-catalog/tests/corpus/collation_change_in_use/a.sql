CREATE COLLATION loose (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE tags (id int PRIMARY KEY, label text COLLATE loose NOT NULL, note text);
CREATE INDEX tags_label ON tags (label);
CREATE VIEW tag_labels AS SELECT label FROM tags;
INSERT INTO tags VALUES (1, 'Rust', NULL), (2, 'rust', NULL);
