-- Stopped projections, for operators: one row per tenant and projection, the projection
-- named in the last column.
CREATE OR REPLACE FUNCTION tenantry.projection_failures()
RETURNS TABLE (tenant_id uuid, projected_seq bigint, failed_seq bigint, failed_error text, failed_at timestamptz, projection text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.tenant_id, p.seq, p.failed_seq, p.failed_error, p.failed_at, p.projection
      FROM tenantry.projections p WHERE p.failed_seq IS NOT NULL ORDER BY p.failed_at, p.projection
$$;

REVOKE ALL ON FUNCTION tenantry.projection_failures() FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.projection_failures() TO tenantry_worker;
