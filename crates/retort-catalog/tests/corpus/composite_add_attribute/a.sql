CREATE TYPE pair AS (a int);
