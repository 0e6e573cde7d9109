-- Tenants with one of the projections p_names behind their stream and not stopped, for the
-- projector after a restart and for /metrics: projected_seq is the least such projection's
-- seq (a projection with no row yet counts as 0). The projector names its projections
-- (Tenantry's and its modules'), so a module added to the binary is caught up too.
-- Cross-tenant, so SECURITY DEFINER; ids only.
DROP FUNCTION IF EXISTS tenantry.projection_backlog(integer);
CREATE OR REPLACE FUNCTION tenantry.projection_backlog(p_limit integer, p_names text[])
RETURNS TABLE (tenant_id uuid, head_seq bigint, projected_seq bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h.tenant_id, h.seq, min(coalesce(p.seq, 0))
      FROM tenantry.tenant_heads h
     CROSS JOIN (SELECT DISTINCT n FROM unnest(p_names) AS n) AS names
      LEFT JOIN tenantry.projections p ON p.tenant_id = h.tenant_id AND p.projection = names.n
     WHERE p.failed_seq IS NULL AND h.seq > coalesce(p.seq, 0)
     GROUP BY h.tenant_id, h.seq
     ORDER BY h.tenant_id
     LIMIT least(greatest(p_limit, 1), 100000)
$$;

REVOKE ALL ON FUNCTION tenantry.projection_backlog(integer, text[]) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.projection_backlog(integer, text[]) TO tenantry_worker;
