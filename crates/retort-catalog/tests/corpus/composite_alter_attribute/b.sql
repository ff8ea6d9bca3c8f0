CREATE TYPE pair AS (a bigint, b text);
