CREATE TABLE base (v int CHECK (v > 0)); CREATE TABLE child () INHERITS (base);
