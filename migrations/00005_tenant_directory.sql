-- The tenant directory: one row per tenant, projected from every tenant's events by the
-- global cursor, for routing (slug to tenant) and for workers and operators. Row-level
-- security lets a tenant's context see its own row; lookups across tenants go through the
-- SECURITY DEFINER functions below, which return directory rows only.

-- +goose Up
CREATE TABLE tenantry.tenants (
    tenant_id          uuid        PRIMARY KEY,
    slug               text        NOT NULL UNIQUE,
    name               text        NOT NULL,
    status             text        NOT NULL,
    plan               text        NOT NULL,
    schema_name        text        NOT NULL,
    stripe_customer_id text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    seq                bigint      NOT NULL  -- the tenant event this row reflects
);
ALTER TABLE tenantry.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.tenants
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.tenants FOR SELECT TO tenantry_owner USING (true);
GRANT SELECT, INSERT, UPDATE ON tenantry.tenants TO tenantry_app;

-- Find a tenant by slug or id, for request routing.
-- +goose StatementBegin
CREATE FUNCTION tenantry.find_tenant(p_slug text, p_id uuid)
RETURNS SETOF tenantry.tenants
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.* FROM tenantry.tenants t
     WHERE (p_slug IS NOT NULL AND t.slug = p_slug) OR (p_id IS NOT NULL AND t.tenant_id = p_id)
     LIMIT 1
$$;
-- +goose StatementEnd

-- Page through the directory in id order, for operators and workers.
-- +goose StatementBegin
CREATE FUNCTION tenantry.list_tenants(p_after uuid, p_limit integer)
RETURNS SETOF tenantry.tenants
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.* FROM tenantry.tenants t
     WHERE p_after IS NULL OR t.tenant_id > p_after
     ORDER BY t.tenant_id
     LIMIT least(greatest(p_limit, 1), 1000)
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION tenantry.find_tenant(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.list_tenants(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.find_tenant(text, uuid) TO tenantry_app;
GRANT EXECUTE ON FUNCTION tenantry.list_tenants(uuid, integer) TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.list_tenants(uuid, integer);
DROP FUNCTION tenantry.find_tenant(text, uuid);
DROP TABLE tenantry.tenants;
