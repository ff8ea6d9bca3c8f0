CREATE TYPE lvl AS ENUM ('low', 'high'); CREATE TABLE t (l lvl);
