-- Tenant schemas: one schema per tenant, named tenant_<32 hex of the tenant id>, owned by
-- tenantry_owner, built from the tenant migrations in migrations/tenant/ (which `tenantry
-- migrate` copies into tenantry.tenant_migrations). One SECURITY DEFINER function creates a
-- schema and brings it to the latest version in one transaction; the runtime role may call
-- it (the projector provisions tenants as they are created) but can run no DDL of its own.

-- +goose Up

-- The tenant migrations, as shipped with this build. Only tenantry_owner reads them.
CREATE TABLE tenantry.tenant_migrations (
    version    integer     PRIMARY KEY CHECK (version > 0),
    name       text        NOT NULL,
    sql        text        NOT NULL,
    checksum   bytea       NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now()
);

-- Each tenant schema and the tenant migration version it is at: a no-op `migrate
-- --tenants-only` is one query over this table, not a connection per schema.
CREATE TABLE tenantry.tenant_schemas (
    tenant_id      uuid        PRIMARY KEY,
    schema_name    text        NOT NULL UNIQUE CHECK (schema_name ~ '^tenant_[0-9a-f]{32}$'),
    version        integer     NOT NULL DEFAULT 0 CHECK (version >= 0),
    provisioned_at timestamptz NOT NULL DEFAULT now(),
    migrated_at    timestamptz
);
CREATE INDEX tenant_schemas_version_idx ON tenantry.tenant_schemas (version);

ALTER TABLE tenantry.tenant_schemas ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.tenant_schemas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.tenant_schemas FOR SELECT
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_all ON tenantry.tenant_schemas TO tenantry_owner USING (true) WITH CHECK (true);

-- The schema name of a tenant: generated here from the id, never taken from input.
-- +goose StatementBegin
CREATE FUNCTION tenantry.tenant_schema_name(p_tenant uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT 'tenant_' || pg_catalog.replace(p_tenant::text, '-', '') $$;
-- +goose StatementEnd

-- Create the tenant's schema if needed and apply every pending tenant migration, all in the
-- caller's transaction (all or nothing). Idempotent and resumable: a schema at the latest
-- version costs one row lookup. Refuses tenants that have no tenant.created event, and any
-- migration that leaves a table without forced row-level security. Returns the version.
-- +goose StatementBegin
CREATE FUNCTION tenantry.migrate_tenant_schema(p_tenant uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s       text := tenantry.tenant_schema_name(p_tenant);
    cur     integer;
    latest  integer;
    m       record;
    bad     text;
BEGIN
    IF s !~ '^tenant_[0-9a-f]{32}$' THEN
        RAISE EXCEPTION 'invalid tenant id' USING ERRCODE = '22023';
    END IF;
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
    -- Unqualified names in the migrations land in the tenant's schema. The function's SET
    -- clause restores the caller's search_path when it returns.
    PERFORM set_config('search_path', format('%I, pg_catalog, pg_temp', s), true);
    FOR m IN SELECT tm.version, tm.sql FROM tenantry.tenant_migrations tm
              WHERE tm.version > cur ORDER BY tm.version LOOP
        EXECUTE m.sql;
        cur := m.version;
    END LOOP;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

    -- The isolation promise, checked on every schema after every migration.
    SELECT string_agg(c.relname, ', ') INTO bad
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = s AND c.relkind IN ('r', 'p')
       AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
            OR NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
            OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid));
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'tenant migration left tables without tenant_id and forced row-level security in %: %', s, bad
            USING ERRCODE = 'TYP02';
    END IF;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tenantry_app', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO tenantry_app', s);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO tenantry_app', s);

    UPDATE tenantry.tenant_schemas SET version = cur, migrated_at = now() WHERE tenant_id = p_tenant;
    RETURN cur;
END
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION tenantry.migrate_tenant_schema(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.migrate_tenant_schema(uuid) TO tenantry_app;
GRANT SELECT ON tenantry.tenant_schemas TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.migrate_tenant_schema(uuid);
DROP FUNCTION tenantry.tenant_schema_name(uuid);
DROP TABLE tenantry.tenant_schemas;
DROP TABLE tenantry.tenant_migrations;
