-- retort:revision d3a0f1c2b403
-- retort:parents d3a0f1c2b402
-- retort:message first greeting

-- retort:up
INSERT INTO greeting VALUES (1, greet('friend'));

-- retort:down
DELETE FROM greeting WHERE id = 1;
