-- The order key of a usage record among its metric's records, usage_totals.last_key: the
-- record's occurred_at (unix ns), the seq of its event and its index in the event, 20
-- bytes, each number with its sign bit flipped so that the bytes sort as the signed numbers
-- do (the bigger key is the later record). eventstore.UsageLastKey is the same in Go. One
-- definition for the totals' writers (usage_totals_add, usage_totals_merge,
-- usage_totals_backfill); a plain SQL expression, which the planner inlines.
CREATE OR REPLACE FUNCTION tenantry.usage_last_key(p_at bigint, p_seq bigint, p_idx integer) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.int8send(p_at # (1::bigint << 63)) || pg_catalog.int8send(p_seq # (1::bigint << 63))
        || pg_catalog.int4send(p_idx # (1 << 31))
$$;

REVOKE ALL ON FUNCTION tenantry.usage_last_key(bigint,bigint,integer) FROM PUBLIC, tenantry_app, tenantry_worker;
