-- retort:revision 5e1f0a7c3b21
-- retort:parents 4befb220dd4b
-- retort:message notes body is text
-- retort:phase expand

-- retort:up
-- A rename done in two phases: the column is renamed now, and the app version at 4befb220dd4b
-- (which writes `body`) keeps its names through a view in retort_v_4befb220dd4b until
-- `retort complete` runs the contract (5e1f0a7c3b22). Each app version sets
-- search_path = retort_v_<its revision>, "$user", public and registers with retort.use_shape.
-- retort:allow rename-or-drop two phases: the previous version keeps `body` through the view below
ALTER TABLE public.notes RENAME COLUMN body TO text;
CREATE SCHEMA retort_v_4befb220dd4b;
GRANT USAGE ON SCHEMA retort_v_4befb220dd4b TO PUBLIC;
CREATE VIEW retort_v_4befb220dd4b.notes WITH (security_invoker = true) AS SELECT id, username, text AS body, created_at FROM public.notes;
GRANT SELECT, INSERT, UPDATE, DELETE ON retort_v_4befb220dd4b.notes TO PUBLIC;

-- retort:down
DROP VIEW IF EXISTS retort_v_4befb220dd4b.notes;
DROP SCHEMA IF EXISTS retort_v_4befb220dd4b;
-- retort:allow rename-or-drop undoing the rename
ALTER TABLE public.notes RENAME COLUMN text TO body;
