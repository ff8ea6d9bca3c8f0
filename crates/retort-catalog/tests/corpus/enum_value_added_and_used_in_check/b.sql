CREATE TYPE lvl AS ENUM ('low', 'mid', 'high'); CREATE TABLE t (l lvl CONSTRAINT not_mid CHECK (l <> 'mid'));
