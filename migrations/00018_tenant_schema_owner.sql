-- A tenant's schema holds only that tenant's rows.
--
-- Row-level security on the tables of tenant_<id> compared tenant_id with the transaction's
-- tenant context only, and both runtime roles have USAGE and DML on every tenant schema. So
-- tenantry_app inside tenant A's context could INSERT rows carrying A's id into tenant B's
-- tables (tenant_<B>.members, usage_hourly, ...; and into a rebuild's shadow schema, which
-- the swap makes live): invisible to B, but stored in B's schema, counted against it, and
-- able to break a later tenant migration of B (a new constraint, an index). Every table of a
-- tenant schema now also has a restrictive policy, schema_owner, that admits only rows whose
-- tenant_id is the tenant the schema is named after; the fail-closed tenant_isolation policy
-- still applies on top. apply_tenant_migrations (defined once, in 00016_runtime_roles.sql)
-- adds it to every table a tenant migration creates (new tenants, rebuild shadows); this
-- migration adds it to the tables that exist.

-- +goose Up

-- Existing schemas (live, rebuild shadows and swapped-out ones), in one pass over pg_class.
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.oid::regclass::text AS tbl, substring(n.nspname FROM 8 FOR 32)::uuid AS own
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname ~ '^tenant_[0-9a-f]{32}(_rebuild|_old)?$' AND c.relkind IN ('r', 'p')
                AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
                AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'schema_owner') LOOP
        EXECUTE format('CREATE POLICY schema_owner ON %s AS RESTRICTIVE USING (tenant_id = %L::uuid) WITH CHECK (tenant_id = %L::uuid)',
                       r.tbl, r.own, r.own);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT p.polrelid::regclass::text AS tbl FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE p.polname = 'schema_owner' AND n.nspname ~ '^tenant_[0-9a-f]{32}(_rebuild|_old)?$' LOOP
        EXECUTE format('DROP POLICY schema_owner ON %s', r.tbl);
    END LOOP;
END
$$;
-- +goose StatementEnd
