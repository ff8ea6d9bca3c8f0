CREATE TYPE mood AS ENUM ('ok');
