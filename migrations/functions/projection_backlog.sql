-- Tenants with a projection behind their stream and not stopped, for the projector after a
-- restart: projected_seq is the least such projection's seq (a projection with no row yet
-- counts as 0). Cross-tenant, so SECURITY DEFINER; ids only.
CREATE OR REPLACE FUNCTION tenantry.projection_backlog(p_limit integer)
RETURNS TABLE (tenant_id uuid, head_seq bigint, projected_seq bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h.tenant_id, h.seq,
           least(CASE WHEN a.failed_seq IS NULL THEN coalesce(a.seq, 0) END,
                 CASE WHEN u.failed_seq IS NULL THEN coalesce(u.seq, 0) END)
      FROM tenantry.tenant_heads h
      LEFT JOIN tenantry.projections a ON a.tenant_id = h.tenant_id AND a.projection = 'auth'
      LEFT JOIN tenantry.projections u ON u.tenant_id = h.tenant_id AND u.projection = 'usage'
     WHERE (a.failed_seq IS NULL AND h.seq > coalesce(a.seq, 0))
        OR (u.failed_seq IS NULL AND h.seq > coalesce(u.seq, 0))
     ORDER BY h.tenant_id
     LIMIT least(greatest(p_limit, 1), 100000)
$$;

REVOKE ALL ON FUNCTION tenantry.projection_backlog(integer) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.projection_backlog(integer) TO tenantry_worker;
