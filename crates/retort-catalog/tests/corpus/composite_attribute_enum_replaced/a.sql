CREATE TYPE c AS ENUM ('x', 'y', 'z'); CREATE TYPE pair AS (a c, b int);
