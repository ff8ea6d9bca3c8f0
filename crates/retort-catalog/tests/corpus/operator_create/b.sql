CREATE SCHEMA geo;
CREATE TYPE geo.cell AS (x integer, y integer);
CREATE FUNCTION geo.cell_eq(geo.cell, geo.cell) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1.x = $2.x AND $1.y = $2.y $$;
CREATE FUNCTION geo.cell_ne(geo.cell, geo.cell) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT NOT ($1.x = $2.x AND $1.y = $2.y) $$;
CREATE FUNCTION geo.cell_norm(geo.cell) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT abs($1.x) + abs($1.y) $$;
-- Infix with itself as commutator and a negator defined after it (a shell until then),
-- estimators and both flags; a prefix operator; comments.
CREATE OPERATOR geo.=== (LEFTARG = geo.cell, RIGHTARG = geo.cell, FUNCTION = geo.cell_eq,
    COMMUTATOR = OPERATOR(geo.===), NEGATOR = OPERATOR(geo.!==),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR geo.!== (LEFTARG = geo.cell, RIGHTARG = geo.cell, FUNCTION = geo.cell_ne,
    COMMUTATOR = OPERATOR(geo.!==), NEGATOR = OPERATOR(geo.===), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR geo.@@ (RIGHTARG = geo.cell, FUNCTION = geo.cell_norm);
COMMENT ON OPERATOR geo.=== (geo.cell, geo.cell) IS 'same cell';
COMMENT ON OPERATOR geo.@@ (NONE, geo.cell) IS 'taxicab norm';
