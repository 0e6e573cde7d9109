-- Every tenant that has a schema, for rebuilding them all. Ids only.
CREATE OR REPLACE FUNCTION tenantry.tenant_schema_list()
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ts.tenant_id FROM tenantry.tenant_schemas ts ORDER BY ts.tenant_id $$;

REVOKE ALL ON FUNCTION tenantry.tenant_schema_list() FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.tenant_schema_list() TO tenantry_worker;
