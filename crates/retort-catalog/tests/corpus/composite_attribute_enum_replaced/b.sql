CREATE TYPE c AS ENUM ('x', 'y'); CREATE TYPE pair AS (a c, b int);
