-- retort:revision d3a0f1c2b404
-- retort:parents d3a0f1c2b403
-- retort:message notes

-- retort:up
CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL);

-- retort:down
DROP TABLE notes;
