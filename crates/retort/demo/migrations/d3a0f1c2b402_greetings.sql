-- retort:revision d3a0f1c2b402
-- retort:parents d3a0f1c2b401
-- retort:message greetings

-- retort:up
CREATE TABLE greeting (
    id   int PRIMARY KEY,
    said text NOT NULL CHECK (said <> '')
);
CREATE FUNCTION greet(who text) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN 'speak, ' || who || ', and enter';

-- retort:down
DROP FUNCTION greet(text);
DROP TABLE greeting;
