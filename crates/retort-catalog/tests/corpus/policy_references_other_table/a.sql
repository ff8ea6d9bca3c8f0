CREATE TABLE members (uid text); CREATE TABLE docs (owner text); ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
