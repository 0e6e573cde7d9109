-- Usage totals per window and per day can no longer overflow. They were bigint, and a
-- window's running total is a sum across requests that no check at the door can bound
-- without reading it first: an overflowing total failed the projection's statement, which
-- stopped the tenant's read models. numeric has no such limit; readers that need an int64
-- (the billing worker) skip and log a window whose total does not fit one. Records are
-- bounded (usage.MaxQuantity) and summed in int64 with checks before they get here.

ALTER TABLE usage_hourly ALTER COLUMN quantity TYPE numeric;
ALTER TABLE usage_daily ALTER COLUMN quantity TYPE numeric;
