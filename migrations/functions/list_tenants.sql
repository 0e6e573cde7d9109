-- Page through the directory in id order, for operators and workers (at most 1,000 a page,
-- and one row more that tells the caller whether there is another page).
CREATE OR REPLACE FUNCTION tenantry.list_tenants(p_after uuid, p_limit integer)
RETURNS SETOF tenantry.tenants
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.* FROM tenantry.tenants t
     WHERE p_after IS NULL OR t.tenant_id > p_after
     ORDER BY t.tenant_id
     LIMIT least(greatest(p_limit, 1), 1001)
$$;

REVOKE ALL ON FUNCTION tenantry.list_tenants(uuid,integer) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.list_tenants(uuid,integer) TO tenantry_app, tenantry_worker;
