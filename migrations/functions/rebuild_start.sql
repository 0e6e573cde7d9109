-- Rebuilds: a fresh shadow schema tenant_<hex>_rebuild at the latest version, filled by
-- replaying the events, then swapped in by renames in the transaction that also moves the
-- projection checkpoint, so readers see the old model or the new one, never a part.
CREATE OR REPLACE FUNCTION tenantry.rebuild_start(p_tenant uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shadow text := tenantry.tenant_schema_name(p_tenant) || '_rebuild';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenantry.tenant_schemas ts WHERE ts.tenant_id = p_tenant) THEN
        RAISE EXCEPTION 'tenant % has no schema to rebuild', p_tenant USING ERRCODE = 'TYP03';
    END IF;
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', shadow);
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', tenantry.tenant_schema_name(p_tenant) || '_old');
    EXECUTE format('CREATE SCHEMA %I AUTHORIZATION tenantry_owner', shadow);
    PERFORM tenantry.apply_tenant_migrations(shadow, 0);
    RETURN shadow;
END
$$;

REVOKE ALL ON FUNCTION tenantry.rebuild_start(uuid) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.rebuild_start(uuid) TO tenantry_worker;
