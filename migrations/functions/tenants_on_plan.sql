-- The tenants whose directory row names a plan (any version), for the operator's plan
-- migration, which checks each against its own stream. Ids only.
CREATE OR REPLACE FUNCTION tenantry.tenants_on_plan(p_plan text)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.tenant_id FROM tenantry.tenants t WHERE t.plan = p_plan ORDER BY t.tenant_id
$$;

REVOKE ALL ON FUNCTION tenantry.tenants_on_plan(text) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.tenants_on_plan(text) TO tenantry_app, tenantry_worker;
