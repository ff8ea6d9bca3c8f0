CREATE FUNCTION nth_id(int) RETURNS int LANGUAGE internal WINDOW IMMUTABLE AS 'window_nth_value';
