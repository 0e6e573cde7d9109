-- Find a tenant by slug or id, for request routing.
CREATE OR REPLACE FUNCTION tenantry.find_tenant(p_slug text, p_id uuid)
RETURNS SETOF tenantry.tenants
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.* FROM tenantry.tenants t
     WHERE (p_slug IS NOT NULL AND t.slug = p_slug) OR (p_id IS NOT NULL AND t.tenant_id = p_id)
     LIMIT 1
$$;

REVOKE ALL ON FUNCTION tenantry.find_tenant(text,uuid) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.find_tenant(text,uuid) TO tenantry_app, tenantry_worker;
