CREATE TYPE shipment AS (carrier text, tracking text);
CREATE SEQUENCE parcel;
