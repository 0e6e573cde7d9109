-- Swap a finished rebuild in: the shadow schema becomes the tenant's, in the caller's
-- transaction (which also moves the projection checkpoint).
CREATE OR REPLACE FUNCTION tenantry.rebuild_swap(p_tenant uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    live   text := tenantry.tenant_schema_name(p_tenant);
    shadow text := live || '_rebuild';
    old    text := live || '_old';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = shadow) THEN
        RAISE EXCEPTION 'no rebuild in progress for tenant %', p_tenant USING ERRCODE = 'TYP03';
    END IF;
    PERFORM 1 FROM tenantry.tenant_schemas ts WHERE ts.tenant_id = p_tenant FOR UPDATE;
    -- Renames lock no table, so readers are never blocked or deadlocked here; statements
    -- after the commit resolve names to the new schema. The old one is dropped later, in
    -- its own transaction (rebuild_cleanup), once its last readers are done.
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', old);
    EXECUTE format('ALTER SCHEMA %I RENAME TO %I', live, old);
    EXECUTE format('ALTER SCHEMA %I RENAME TO %I', shadow, live);
    UPDATE tenantry.tenant_schemas
       SET version = (SELECT coalesce(max(version), 0) FROM tenantry.tenant_migrations), migrated_at = now()
     WHERE tenant_id = p_tenant;
END
$$;

REVOKE ALL ON FUNCTION tenantry.rebuild_swap(uuid) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.rebuild_swap(uuid) TO tenantry_worker;
