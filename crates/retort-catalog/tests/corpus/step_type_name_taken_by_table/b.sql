-- A table takes the name of a composite type that goes (its row type needs the name), and of
-- a sequence that goes (relations share one namespace).
CREATE TABLE shipment (carrier text, tracking text, id bigint);
CREATE TABLE parcel (id bigint PRIMARY KEY);
