-- The general case of usage_totals_add (see there): rows of one tenant, metric and period
-- are merged first (one upsert may not touch a row twice), then added, and a total beyond
-- its hard quota raises TYQ01. Its caller has checked that the arrays are of one length.
-- Not SECURITY DEFINER and granted to nobody, as usage_totals_add.
CREATE OR REPLACE FUNCTION tenantry.usage_totals_merge(
    p_tenants uuid[], p_seqs bigint[], p_idx integer[], p_at bigint[], p_metrics text[], p_periods date[],
    p_sums text[], p_maxes text[], p_lasts text[], p_limits text[]
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_done integer;
BEGIN
    WITH d AS (
        SELECT u.t, u.m, u.p, sum(u.s::numeric) AS s, max(u.mx::numeric) AS mx,
               (array_agg(u.l::numeric ORDER BY u.k DESC))[1] AS l, (array_agg(u.k ORDER BY u.k DESC))[1] AS k, min(nullif(u.lim, '')::numeric) AS lim
          FROM (SELECT x.t, x.m, x.p, x.s, x.mx, x.l, x.lim,
                       tenantry.usage_last_key(x.at, x.seq, x.i) AS k
                  FROM unnest(p_tenants, p_seqs, p_idx, p_at, p_metrics, p_periods, p_sums, p_maxes, p_lasts, p_limits)
                       AS x(t, seq, i, at, m, p, s, mx, l, lim)) AS u
         GROUP BY u.t, u.m, u.p
    ), up AS (
        INSERT INTO tenantry.usage_totals AS ut (tenant_id, metric, period, total, max_quantity, last_quantity, last_key)
        SELECT d.t, d.m, d.p, d.s, d.mx, d.l, d.k FROM d
        ON CONFLICT (tenant_id, period, metric) DO UPDATE
           SET total = ut.total + excluded.total,
               max_quantity = greatest(ut.max_quantity, excluded.max_quantity),
               last_quantity = CASE WHEN ut.last_key IS NULL OR excluded.last_key > ut.last_key
                                    THEN excluded.last_quantity ELSE ut.last_quantity END,
               last_key = greatest(ut.last_key, excluded.last_key)
        RETURNING ut.tenant_id, ut.metric, ut.period, ut.total
    )
    SELECT tenantry.usage_quota_exceeded(up.metric, up.period, up.total - d.s, d.lim) INTO v_done
      FROM up JOIN d ON d.t = up.tenant_id AND d.m = up.metric AND d.p = up.period
     WHERE up.total > d.lim
     LIMIT 1;
    RETURN cardinality(p_tenants);
END
$$;

REVOKE ALL ON FUNCTION tenantry.usage_totals_merge(uuid[],bigint[],integer[],bigint[],text[],date[],text[],text[],text[],text[]) FROM PUBLIC, tenantry_app, tenantry_worker;
