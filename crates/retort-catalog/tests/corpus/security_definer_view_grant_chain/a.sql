CREATE TABLE secrets (v text); REVOKE ALL ON secrets FROM PUBLIC;
