-- Create the tenant's schema if needed and apply every pending tenant migration, all in the
-- caller's transaction (all or nothing). Idempotent and resumable: a schema at the latest
-- version costs one row lookup. Refuses tenants that have no tenant.created event, and any
-- migration that leaves a table without forced row-level security. Returns the version.
CREATE OR REPLACE FUNCTION tenantry.migrate_tenant_schema(p_tenant uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s       text := tenantry.tenant_schema_name(p_tenant);
    cur     integer;
    latest  integer;
BEGIN
    SELECT coalesce(max(tm.version), 0) INTO latest FROM tenantry.tenant_migrations tm;
    SELECT ts.version INTO cur FROM tenantry.tenant_schemas ts WHERE ts.tenant_id = p_tenant FOR UPDATE;
    IF cur IS NOT NULL AND cur >= latest THEN
        RETURN cur; -- current: nothing to do
    END IF;
    IF cur IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM tenantry.events e
                        WHERE e.tenant_id = p_tenant AND e.event_type = 'tenant.created') THEN
            RAISE EXCEPTION 'tenant % has no tenant.created event; refusing to provision', p_tenant
                USING ERRCODE = 'TYP01';
        END IF;
        INSERT INTO tenantry.tenant_schemas (tenant_id, schema_name, version)
        VALUES (p_tenant, s, 0) ON CONFLICT (tenant_id) DO NOTHING;
        IF NOT FOUND THEN
            -- A concurrent provisioning of the same tenant won; it has committed by now.
            SELECT ts.version INTO cur FROM tenantry.tenant_schemas ts WHERE ts.tenant_id = p_tenant FOR UPDATE;
            IF cur >= latest THEN
                RETURN cur;
            END IF;
        ELSE
            cur := 0;
        END IF;
    END IF;

    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION tenantry_owner', s);
    cur := tenantry.apply_tenant_migrations(s, cur);
    UPDATE tenantry.tenant_schemas SET version = cur, migrated_at = now() WHERE tenant_id = p_tenant;
    RETURN cur;
END
$$;

REVOKE ALL ON FUNCTION tenantry.migrate_tenant_schema(uuid) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.migrate_tenant_schema(uuid) TO tenantry_worker;
