-- What Stripe was told of a usage window is as unbounded as the window's recorded total
-- (usage_hourly, numeric since 0004): a window beyond an int64 is reported in several meter
-- events, and its reported total must be kept exactly to be compared with what was recorded.

ALTER TABLE usage_reported ALTER COLUMN quantity TYPE numeric;
