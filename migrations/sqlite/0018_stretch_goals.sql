-- Stretch goals and a donor goal. `stretch_goals` holds the goals after `goal_minor` as JSON
-- (`[{"amount": 12000000, "reached_at": null}]`, each above the one before); the first goal's
-- reaching stays in `goal_reached_at`/`goal_reached_minor`. Expand-only.
ALTER TABLE campaigns ADD COLUMN stretch_goals TEXT;
ALTER TABLE campaigns ADD COLUMN donor_goal INTEGER;
