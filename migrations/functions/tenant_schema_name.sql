-- The schema name of a tenant: generated here from the id, never taken from input.
CREATE OR REPLACE FUNCTION tenantry.tenant_schema_name(p_tenant uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT 'tenant_' || pg_catalog.replace(p_tenant::text, '-', '') $$;

REVOKE ALL ON FUNCTION tenantry.tenant_schema_name(uuid) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.tenant_schema_name(uuid) TO tenantry_app, tenantry_worker;
