CREATE FUNCTION total(VARIADIC nums int[]) RETURNS int LANGUAGE sql AS 'SELECT sum(n)::int FROM unnest(nums) n';
