CREATE TYPE money_amount AS (cents bigint, currency text);
-- A composite type referencing another composite type.
CREATE TYPE priced_item AS (name text, price money_amount);
CREATE TABLE tags (id integer PRIMARY KEY, label text);
-- An array of a table's row type in a column, and of a composite.
CREATE TABLE baskets (id integer PRIMARY KEY, items priced_item[], tag_rows tags[]);
-- A range over a domain.
CREATE DOMAIN positive_num AS numeric CHECK (VALUE > 0);
CREATE TYPE positive_span AS RANGE (subtype = positive_num);
CREATE TABLE offers (id integer PRIMARY KEY, span positive_span);
