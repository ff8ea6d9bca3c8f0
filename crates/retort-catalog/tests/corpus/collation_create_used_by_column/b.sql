CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
COMMENT ON COLLATION case_insensitive IS 'emails compare without case';
CREATE DOMAIN handle AS text COLLATE case_insensitive CHECK (length(VALUE) < 40);
CREATE TABLE users (id bigint PRIMARY KEY, email text COLLATE case_insensitive NOT NULL, nick handle);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE VIEW user_emails AS SELECT email FROM users WHERE email = 'A@example.com';
