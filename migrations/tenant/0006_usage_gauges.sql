-- Gauge metrics (storage in use, seats): a gauge's records are readings, billed per period
-- by their maximum or by the last one (by occurred_at). Every usage window keeps what any
-- aggregation needs, whatever the metric's definition says (definitions are applied when
-- the windows are read, so a rebuild never depends on them): the sum (quantity, as
-- before), the highest reading (max_quantity) and the last reading (last_quantity) with
-- its position last_key: 20 bytes that sort as (occurred_at in unix nanoseconds, the
-- event's seq, the record's index in the event), so merging a batch into a window is one
-- greatest() and one comparison (see eventstore.UsageLastKey). Values are exact decimals
-- (a metric may allow decimal places). Windows written before this migration have no
-- maximum or last reading (NULL) until the read models are rebuilt.

ALTER TABLE usage_hourly
    ADD COLUMN max_quantity  numeric,
    ADD COLUMN last_key      bytea,
    ADD COLUMN last_quantity numeric;

ALTER TABLE usage_daily
    ADD COLUMN max_quantity  numeric,
    ADD COLUMN last_key      bytea,
    ADD COLUMN last_quantity numeric;
