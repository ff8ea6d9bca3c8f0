-- retort:revision d3a0f1c2b401
-- retort:message users

-- retort:up
CREATE TABLE users (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);

-- retort:down
DROP TABLE users;
