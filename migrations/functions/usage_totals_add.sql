-- Adds an append's usage to tenantry.usage_totals: the one statement append_events and
-- append_events_group share for it, called by them (as the owner) under the tenants' append
-- locks, after their events, so the totals always equal the fold of the committed events.
-- Row i is what the event at seq p_seqs[i] of tenant p_tenants[i] adds to one metric's
-- quota period: the sum of its quantities, its highest reading, and its last reading,
-- p_lasts[i], at the record p_idx[i] of the event, occurred at p_at[i] (unix ns); values are
-- decimal text. Rows of one tenant, metric and period are merged first (usage_totals_merge:
-- one upsert may not touch a row twice), then added: total += sum, max_quantity = greatest,
-- last by last_key (usage_last_key.sql; the bigger key wins).
--
-- p_limits[i], when not NULL or empty, is the period's hard quota of the metric: a total
-- beyond it raises TYQ01 (usage_quota_exceeded.sql) and so rolls the whole append back. The
-- tenant's appends are serialised by its lock, so the check sees every committed append: a
-- hard quota is never overshot, not even by one unit under any concurrency.
--
-- Not SECURITY DEFINER and granted to nobody: it runs as the owner only inside the append
-- functions, whose tenant checks and row-level security scope its writes.
CREATE OR REPLACE FUNCTION tenantry.usage_totals_add(
    p_tenants uuid[], p_seqs bigint[], p_idx integer[], p_at bigint[], p_metrics text[], p_periods date[],
    p_sums text[], p_maxes text[], p_lasts text[], p_limits text[]
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_total numeric;
BEGIN
    IF coalesce(cardinality(p_seqs), 0) <> cardinality(p_tenants) OR coalesce(cardinality(p_idx), 0) <> cardinality(p_tenants)
       OR coalesce(cardinality(p_at), 0) <> cardinality(p_tenants) OR coalesce(cardinality(p_metrics), 0) <> cardinality(p_tenants)
       OR coalesce(cardinality(p_periods), 0) <> cardinality(p_tenants) OR coalesce(cardinality(p_sums), 0) <> cardinality(p_tenants)
       OR coalesce(cardinality(p_maxes), 0) <> cardinality(p_tenants) OR coalesce(cardinality(p_lasts), 0) <> cardinality(p_tenants)
       OR coalesce(cardinality(p_limits), 0) <> cardinality(p_tenants) THEN
        RAISE EXCEPTION 'usage totals arrays differ in length' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_tenants) <> 1 THEN
        RETURN tenantry.usage_totals_merge(p_tenants, p_seqs, p_idx, p_at, p_metrics, p_periods, p_sums, p_maxes, p_lasts, p_limits);
    END IF;
    -- One row (an append of one event of one metric in one period: ingestion's common case)
    -- needs no merging: one plain upsert, and the quota check only under a quota. The
    -- migrations package's benchmark usage_totals_one_row weighs it against
    -- usage_totals_merge given the same row.
    INSERT INTO tenantry.usage_totals AS ut (tenant_id, metric, period, total, max_quantity, last_quantity, last_key)
    VALUES (p_tenants[1], p_metrics[1], p_periods[1], p_sums[1]::numeric, p_maxes[1]::numeric, p_lasts[1]::numeric,
            tenantry.usage_last_key(p_at[1], p_seqs[1], p_idx[1]))
    ON CONFLICT (tenant_id, period, metric) DO UPDATE
       SET total = ut.total + excluded.total,
           max_quantity = greatest(ut.max_quantity, excluded.max_quantity),
           last_quantity = CASE WHEN ut.last_key IS NULL OR excluded.last_key > ut.last_key
                                THEN excluded.last_quantity ELSE ut.last_quantity END,
           last_key = greatest(ut.last_key, excluded.last_key)
    RETURNING ut.total INTO v_total;
    IF nullif(p_limits[1], '') IS NOT NULL AND v_total > p_limits[1]::numeric THEN
        PERFORM tenantry.usage_quota_exceeded(p_metrics[1], p_periods[1], v_total - p_sums[1]::numeric, p_limits[1]::numeric);
    END IF;
    RETURN 1;
END
$$;

REVOKE ALL ON FUNCTION tenantry.usage_totals_add(uuid[],bigint[],integer[],bigint[],text[],date[],text[],text[],text[],text[]) FROM PUBLIC, tenantry_app, tenantry_worker;
