-- Recomputes one tenant's tenantry.usage_totals from its usage events: what append_events
-- adds record by record, folded over the whole stored history at once, for the usage
-- appended before the append functions kept the totals (00010_usage_totals_writes.sql), or
-- to repair them. With p_lock it takes the tenant's append lock, so no append interleaves;
-- the migration instead blocks every append at once (a lock per tenant would fill the lock
-- table with thousands of tenants). Owner only.
--
-- The fold is the usage read model's (eventstore/readmodels_apply.go): a usage.recorded
-- event is one record (index 0), a usage.batch_recorded event's data.records are its
-- records in order (index 0, 1, ...); a record counts in the UTC month of its occurred_at.
-- occurred_at is RFC 3339 text with up to nanoseconds, more than a timestamptz holds: its
-- whole seconds are read as a timestamp, its fraction as digits, so last_key (occurred_at
-- ns, seq, record index; see usage_totals_add.sql) and the month are exact.
CREATE OR REPLACE FUNCTION tenantry.usage_totals_backfill(p_tenant uuid, p_lock boolean DEFAULT true) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_done text;
    v_rows integer;
BEGIN
    v_done := set_config('tenantry.tenant_id', p_tenant::text, true);
    IF p_lock THEN
        v_done := pg_advisory_xact_lock(7365710, hashtext(p_tenant::text))::text;
    END IF;
    DELETE FROM tenantry.usage_totals AS ut WHERE ut.tenant_id = p_tenant;
    WITH r AS (
        SELECT e.seq, 0 AS i, e.data AS rec
          FROM tenantry.events AS e
         WHERE e.tenant_id = p_tenant AND e.event_type = 'usage.recorded'
        UNION ALL
        SELECT e.seq, (x.o - 1)::integer, x.rec
          FROM tenantry.events AS e, jsonb_array_elements(e.data -> 'records') WITH ORDINALITY AS x(rec, o)
         WHERE e.tenant_id = p_tenant AND e.event_type = 'usage.batch_recorded'
    ), v AS (
        SELECT r.seq, r.i, r.rec ->> 'metric' AS m, (r.rec ->> 'quantity')::numeric AS q, s.sec,
               s.sec * 1000000000 + coalesce(rpad(substring(r.rec ->> 'occurred_at' FROM '\.([0-9]+)'), 9, '0')::bigint, 0) AS at
          FROM r, LATERAL (SELECT floor(extract(epoch FROM regexp_replace(r.rec ->> 'occurred_at', '\.[0-9]+', '')::timestamptz))::bigint AS sec) AS s
    ), k AS (
        SELECT v.m, (date_trunc('month', to_timestamp(v.sec) AT TIME ZONE 'UTC'))::date AS p, v.q,
               tenantry.usage_last_key(v.at, v.seq, v.i) AS key
          FROM v
    )
    INSERT INTO tenantry.usage_totals AS ut (tenant_id, metric, period, total, max_quantity, last_quantity, last_key)
    SELECT p_tenant, k.m, k.p, sum(k.q), max(k.q), (array_agg(k.q ORDER BY k.key DESC))[1], (array_agg(k.key ORDER BY k.key DESC))[1]
      FROM k
     GROUP BY k.m, k.p;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

REVOKE ALL ON FUNCTION tenantry.usage_totals_backfill(uuid,boolean) FROM PUBLIC, tenantry_app, tenantry_worker;
