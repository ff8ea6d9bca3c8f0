CREATE SCHEMA geo;
CREATE TYPE geo.cell AS (x integer, y integer);
CREATE FUNCTION geo.cell_eq(geo.cell, geo.cell) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1.x = $2.x AND $1.y = $2.y $$;
CREATE FUNCTION geo.cell_ne(geo.cell, geo.cell) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT NOT ($1.x = $2.x AND $1.y = $2.y) $$;
CREATE FUNCTION geo.cell_norm(geo.cell) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT abs($1.x) + abs($1.y) $$;
