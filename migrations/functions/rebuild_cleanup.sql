-- Drop what a rebuild left behind (a shadow schema that was never swapped in, or the
-- swapped-out one).
CREATE OR REPLACE FUNCTION tenantry.rebuild_cleanup(p_tenant uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- A reader whose statement began before the swap may still be locking the old tables one by
-- one; give way quickly (well before deadlock detection) and let the caller retry.
SET lock_timeout = '100ms'
AS $$
BEGIN
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', tenantry.tenant_schema_name(p_tenant) || '_old');
END
$$;

REVOKE ALL ON FUNCTION tenantry.rebuild_cleanup(uuid) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.rebuild_cleanup(uuid) TO tenantry_worker;
