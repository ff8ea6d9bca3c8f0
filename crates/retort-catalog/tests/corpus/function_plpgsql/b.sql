CREATE FUNCTION bump(x int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE y int := x;
BEGIN
  y := y + 1; -- a comment; with semicolons
  RETURN y;
END;
$$;
