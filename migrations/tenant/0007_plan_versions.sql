-- The tenant's plan version, billing interval and trial end (issue 20); existing
-- profiles read as version 1, monthly.

ALTER TABLE profile
    ADD COLUMN plan_version     integer NOT NULL DEFAULT 1,
    ADD COLUMN billing_interval text    NOT NULL DEFAULT 'monthly',
    ADD COLUMN trial_ends_at    timestamptz;
