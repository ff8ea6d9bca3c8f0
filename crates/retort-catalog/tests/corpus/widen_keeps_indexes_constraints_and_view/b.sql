CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(2000) NOT NULL UNIQUE, note text CHECK (note <> ''), ref varchar(40));
CREATE INDEX accounts_note ON accounts (note);
CREATE TABLE refs (code varchar(40) PRIMARY KEY);
ALTER TABLE accounts ADD CONSTRAINT accounts_ref_fk FOREIGN KEY (ref) REFERENCES refs (code);
CREATE VIEW account_emails AS SELECT id, email FROM accounts;
COMMENT ON COLUMN accounts.email IS 'login';
