-- retort:revision c4a438759efb
-- retort:parents c4a438759efa
-- retort:message users and notes

-- retort:up
-- Who exists (names only: passwords live in the shadow store) and what they wrote.
CREATE TABLE users (
    username   text PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text NOT NULL REFERENCES users ON DELETE CASCADE,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_by_user ON notes (username, id DESC);
GRANT SELECT, INSERT, DELETE ON users TO speakfriend_app;
GRANT SELECT, INSERT ON notes TO speakfriend_app;

-- retort:down
DROP TABLE notes;
DROP TABLE users;
