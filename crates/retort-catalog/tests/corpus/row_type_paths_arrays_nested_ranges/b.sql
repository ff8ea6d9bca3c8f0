-- The inner composite gains an attribute, the table whose rows are held in arrays gains a
-- column, the domain under the range gets a stricter check.
CREATE TYPE money_amount AS (cents bigint, currency text, rounded boolean);
CREATE TYPE priced_item AS (name text, price money_amount);
CREATE TABLE tags (id integer PRIMARY KEY, label text, color text);
CREATE TABLE baskets (id integer PRIMARY KEY, items priced_item[], tag_rows tags[]);
CREATE DOMAIN positive_num AS numeric CHECK (VALUE > 0 AND VALUE < 1000000);
CREATE TYPE positive_span AS RANGE (subtype = positive_num);
CREATE TABLE offers (id integer PRIMARY KEY, span positive_span);
