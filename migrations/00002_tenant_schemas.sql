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

-- Apply the tenant migrations after version p_from to schema p_schema (which must exist),
-- check the isolation promise on every table, and grant the runtime role DML only. Internal:
-- only the SECURITY DEFINER functions below call it. Returns the version reached.
-- +goose StatementBegin
CREATE FUNCTION tenantry.apply_tenant_migrations(p_schema text, p_from integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur    integer := p_from;
    m      record;
    bad    text;
    rels   oid[];
    tables text;
BEGIN
    IF p_schema !~ '^tenant_[0-9a-f]{32}(_rebuild)?$' THEN
        RAISE EXCEPTION 'invalid tenant schema name' USING ERRCODE = '22023';
    END IF;
    -- Unqualified names in the migrations land in the tenant's schema. The function's SET
    -- clause restores the caller's search_path when it returns.
    PERFORM set_config('search_path', format('%I, pg_catalog, pg_temp', p_schema), true);
    FOR m IN SELECT tm.version, tm.sql FROM tenantry.tenant_migrations tm
              WHERE tm.version > p_from ORDER BY tm.version LOOP
        EXECUTE m.sql;
        cur := m.version;
    END LOOP;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

    -- The schema's relations, found through pg_depend's index: pg_class has no index on
    -- the namespace alone, and scanning it per schema would make migrating N schemas O(N^2).
    SELECT array_agg(c.oid ORDER BY c.oid) INTO rels
      FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
     WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = p_schema::regnamespace
       AND d.classid = 'pg_class'::regclass AND d.deptype = 'n' AND c.relkind IN ('r', 'p', 'S');

    -- The isolation promise, checked on every schema after every migration.
    SELECT string_agg(c.relname, ', ') INTO bad
      FROM pg_class c
     WHERE c.oid = ANY (rels) AND c.relkind IN ('r', 'p')
       AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
            OR NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
            OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid));
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'tenant migration left tables without tenant_id and forced row-level security in %: %', p_schema, bad
            USING ERRCODE = 'TYP02';
    END IF;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tenantry_app', p_schema);
    SELECT string_agg(c.oid::regclass::text, ', ') INTO tables FROM pg_class c WHERE c.oid = ANY (rels) AND c.relkind IN ('r', 'p');
    IF tables IS NOT NULL THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO tenantry_app', tables);
    END IF;
    SELECT string_agg(c.oid::regclass::text, ', ') INTO tables FROM pg_class c WHERE c.oid = ANY (rels) AND c.relkind = 'S';
    IF tables IS NOT NULL THEN
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO tenantry_app', tables);
    END IF;
    RETURN cur;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION tenantry.apply_tenant_migrations(text, integer) FROM PUBLIC;

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
-- +goose StatementEnd

-- Rebuilds: a fresh shadow schema tenant_<hex>_rebuild at the latest version, filled by
-- replaying the events, then swapped in by renames in the transaction that also moves the
-- projection checkpoint, so readers see the old model or the new one, never a part.
-- +goose StatementBegin
CREATE FUNCTION tenantry.rebuild_start(p_tenant uuid) RETURNS text
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
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION tenantry.rebuild_swap(p_tenant uuid) RETURNS void
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
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION tenantry.rebuild_cleanup(p_tenant uuid) RETURNS void
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
-- +goose StatementEnd

REVOKE ALL ON FUNCTION tenantry.rebuild_cleanup(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.rebuild_cleanup(uuid) TO tenantry_app;
REVOKE ALL ON FUNCTION tenantry.rebuild_start(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.rebuild_swap(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.rebuild_start(uuid) TO tenantry_app;
GRANT EXECUTE ON FUNCTION tenantry.rebuild_swap(uuid) TO tenantry_app;

REVOKE ALL ON FUNCTION tenantry.migrate_tenant_schema(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.migrate_tenant_schema(uuid) TO tenantry_app;
GRANT SELECT ON tenantry.tenant_schemas TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.rebuild_cleanup(uuid);
DROP FUNCTION tenantry.rebuild_swap(uuid);
DROP FUNCTION tenantry.rebuild_start(uuid);
DROP FUNCTION tenantry.migrate_tenant_schema(uuid);
DROP FUNCTION tenantry.apply_tenant_migrations(text, integer);
DROP FUNCTION tenantry.tenant_schema_name(uuid);
DROP TABLE tenantry.tenant_schemas;
DROP TABLE tenantry.tenant_migrations;
