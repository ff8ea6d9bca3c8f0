CREATE PROCEDURE bump(INOUT x int) LANGUAGE plpgsql AS $$ BEGIN x := x + 1; END $$;
