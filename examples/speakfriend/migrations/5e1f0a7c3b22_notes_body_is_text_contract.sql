-- retort:revision 5e1f0a7c3b22
-- retort:parents 5e1f0a7c3b21
-- retort:message notes body is text (contract)
-- retort:phase contract

-- retort:up
-- Once no session of the app version at 4befb220dd4b is connected: its view goes.
DROP VIEW retort_v_4befb220dd4b.notes;
DROP SCHEMA retort_v_4befb220dd4b;

-- retort:down
CREATE SCHEMA retort_v_4befb220dd4b;
GRANT USAGE ON SCHEMA retort_v_4befb220dd4b TO PUBLIC;
CREATE VIEW retort_v_4befb220dd4b.notes WITH (security_invoker = true) AS SELECT id, username, text AS body, created_at FROM public.notes;
GRANT SELECT, INSERT, UPDATE, DELETE ON retort_v_4befb220dd4b.notes TO PUBLIC;
