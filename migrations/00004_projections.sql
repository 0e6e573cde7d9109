-- Projection state per tenant: how far its read models have got (written in the same
-- transaction as the effects, so they happen exactly once) and, when an event could not be
-- applied, which one and why. Shared rather than per schema so that finding every tenant
-- with a backlog, and listing the failed ones, is one query.

-- +goose Up
CREATE TABLE tenantry.projections (
    tenant_id    uuid        PRIMARY KEY,
    seq          bigint      NOT NULL DEFAULT 0 CHECK (seq >= 0),
    failed_seq   bigint,
    failed_error text,
    failed_at    timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenantry.projections ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.projections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.projections
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.projections FOR SELECT TO tenantry_owner USING (true);
GRANT SELECT, INSERT, UPDATE ON tenantry.projections TO tenantry_app;

-- Tenants whose stream is ahead of their projection and not stopped by a failure: what the
-- projector picks up after a restart. Cross-tenant, so SECURITY DEFINER; ids only.
-- +goose StatementBegin
CREATE FUNCTION tenantry.projection_backlog(p_limit integer)
RETURNS TABLE (tenant_id uuid, head_seq bigint, projected_seq bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h.tenant_id, h.seq, coalesce(p.seq, 0)
      FROM tenantry.tenant_heads h
      LEFT JOIN tenantry.projections p ON p.tenant_id = h.tenant_id
     WHERE h.seq > coalesce(p.seq, 0) AND p.failed_seq IS NULL
     ORDER BY h.tenant_id
     LIMIT least(greatest(p_limit, 1), 100000)
$$;
-- +goose StatementEnd

-- Tenants whose projection stopped on an event it could not apply, for operators.
-- +goose StatementBegin
CREATE FUNCTION tenantry.projection_failures()
RETURNS TABLE (tenant_id uuid, projected_seq bigint, failed_seq bigint, failed_error text, failed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.tenant_id, p.seq, p.failed_seq, p.failed_error, p.failed_at
      FROM tenantry.projections p WHERE p.failed_seq IS NOT NULL ORDER BY p.failed_at
$$;
-- +goose StatementEnd

-- Every tenant that has a schema, for rebuilding them all. Ids only.
-- +goose StatementBegin
CREATE FUNCTION tenantry.tenant_schema_list()
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ts.tenant_id FROM tenantry.tenant_schemas ts ORDER BY ts.tenant_id $$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION tenantry.tenant_schema_list() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.tenant_schema_list() TO tenantry_app;
REVOKE ALL ON FUNCTION tenantry.projection_backlog(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.projection_failures() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.projection_backlog(integer) TO tenantry_app;
GRANT EXECUTE ON FUNCTION tenantry.projection_failures() TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.tenant_schema_list();
DROP FUNCTION tenantry.projection_failures();
DROP FUNCTION tenantry.projection_backlog(integer);
DROP TABLE tenantry.projections;
