CREATE TYPE post_state AS ENUM ('draft', 'published');
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE posts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE, body text NOT NULL, state post_state NOT NULL DEFAULT 'draft');
CREATE INDEX posts_user ON posts (user_id, state);
CREATE VIEW published AS SELECT p.id, u.email, p.body FROM posts p JOIN users u ON u.id = p.user_id WHERE p.state = 'published';
COMMENT ON VIEW published IS 'what readers see';
GRANT SELECT ON published TO app_reader;
