-- Apply the tenant migrations after version p_from to schema p_schema (which must exist),
-- check the isolation promise on every table, and grant the runtime role DML only. Internal:
-- only the SECURITY DEFINER functions below call it. Returns the version reached.
CREATE OR REPLACE FUNCTION tenantry.apply_tenant_migrations(p_schema text, p_from integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur    integer := p_from;
    m      record;
    bad    text;
    rels   oid[];
    tables text;
    own    uuid;
    t      text;
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

    -- Each table accepts only its own tenant's rows, whatever the tenant context says
    -- (otherwise tenantry_app in tenant A's context could store rows carrying A's id in B's
    -- schema): a restrictive policy naming the tenant of the schema's name, once per table.
    own := substring(p_schema FROM 8 FOR 32)::uuid;
    FOR t IN SELECT c.oid::regclass::text FROM pg_class c
              WHERE c.oid = ANY (rels) AND c.relkind IN ('r', 'p')
                AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'schema_owner') LOOP
        EXECUTE format('CREATE POLICY schema_owner ON %s AS RESTRICTIVE USING (tenant_id = %L::uuid) WITH CHECK (tenant_id = %L::uuid)',
                       t, own, own);
    END LOOP;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tenantry_app, tenantry_worker', p_schema);
    SELECT string_agg(c.oid::regclass::text, ', ') INTO tables FROM pg_class c WHERE c.oid = ANY (rels) AND c.relkind IN ('r', 'p');
    IF tables IS NOT NULL THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO tenantry_app, tenantry_worker', tables);
    END IF;
    SELECT string_agg(c.oid::regclass::text, ', ') INTO tables FROM pg_class c WHERE c.oid = ANY (rels) AND c.relkind = 'S';
    IF tables IS NOT NULL THEN
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO tenantry_app, tenantry_worker', tables);
    END IF;
    RETURN cur;
END
$$;

REVOKE ALL ON FUNCTION tenantry.apply_tenant_migrations(text,integer) FROM PUBLIC, tenantry_app, tenantry_worker;
