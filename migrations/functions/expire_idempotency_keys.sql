-- Forget remembered responses older than p_age, across tenants (they are replayed for 24
-- hours by default); returns how many were removed.
CREATE OR REPLACE FUNCTION tenantry.expire_idempotency_keys(p_age interval)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM tenantry.idempotency_keys WHERE created_at < now() - greatest(p_age, interval '1 minute')
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;

REVOKE ALL ON FUNCTION tenantry.expire_idempotency_keys(interval) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.expire_idempotency_keys(interval) TO tenantry_worker;
