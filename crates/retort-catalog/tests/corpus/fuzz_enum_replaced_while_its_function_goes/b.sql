-- A value goes (the type is replaced in place while a column uses it) and the function taking
-- the type goes too: the function must be dropped before the old type, not with the late drops.
CREATE TYPE state AS ENUM ('new', 'open');
CREATE TABLE tickets (id bigint PRIMARY KEY, s state NOT NULL DEFAULT 'new');
