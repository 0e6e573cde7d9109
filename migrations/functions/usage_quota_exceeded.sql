-- Raises a hard quota's refusal of an append (SQLSTATE TYQ01; DETAIL: period, usage before
-- the append, quota and metric, tab-separated, which eventstore reads back into a
-- *domain.QuotaExceeded). Called by the usage totals' writers, only when a total is beyond
-- its quota; the raise rolls the whole append back.
CREATE OR REPLACE FUNCTION tenantry.usage_quota_exceeded(p_metric text, p_period date, p_used numeric, p_quota numeric)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'usage of % in the period from % would exceed its hard quota of % (used: %)',
            p_metric, p_period, trim_scale(p_quota), trim_scale(p_used)
        USING ERRCODE = 'TYQ01',
              DETAIL = to_char(p_period, 'YYYY-MM-DD') || E'\t' || trim_scale(p_used)::text || E'\t'
                       || trim_scale(p_quota)::text || E'\t' || p_metric;
END
$$;

REVOKE ALL ON FUNCTION tenantry.usage_quota_exceeded(text,date,numeric,numeric) FROM PUBLIC, tenantry_app, tenantry_worker;
