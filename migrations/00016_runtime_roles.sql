-- Least privilege per process: two runtime roles.
--
-- tenantry_app is the internet-facing API's login. It reaches tenant data only inside its
-- tenant context (row-level security) and through functions that either check that context
-- (fail closed) or return non-secret directory facts for routing (find_tenant,
-- find_tenant_by_customer, list_tenants for the operator's listing).
-- tenantry_worker is the cross-tenant machinery's login (relay, projector, directory,
-- rebuild, head signer, billing worker, janitors): the global cursor, tenant provisioning
-- and rebuilds, relay cursors, projection checkpoints, directory writes and job claims.
-- (Stripe webhooks are received and applied by the API: a customer -> tenant directory
-- lookup, then an append inside that tenant's context.) It too is NOBYPASSRLS: its tenant-table reads and writes happen under a
-- tenant context like the API's; only its SECURITY DEFINER functions work across tenants.
--
-- The rule for every new object: tables holding tenant data get RLS and DML for the role(s)
-- that use them under a tenant context; a function that takes a tenant id and does not check
-- it against current_setting('tenantry.tenant_id'), or works across tenants, is granted to
-- tenantry_worker only; every function starts with REVOKE ALL ... FROM PUBLIC (PostgreSQL
-- grants EXECUTE to PUBLIC by default). migrations/roles_test.go holds the allow-list of
-- what tenantry_app may execute and fails on anything new, so each addition is reviewed.
-- The matrix is in README.md ("How isolation and integrity are enforced", Roles).
--
-- tenantry_worker is created by the bootstrap in migrations/migrate.go, before any migration.

-- +goose Up

-- The shared schema and tables. Both roles append and read events under a tenant context.
GRANT USAGE ON SCHEMA tenantry TO tenantry_worker;
GRANT SELECT, INSERT ON tenantry.events TO tenantry_worker;
GRANT SELECT, INSERT, UPDATE ON tenantry.tenant_heads TO tenantry_worker;
GRANT SELECT, INSERT, UPDATE ON tenantry.streams TO tenantry_worker;
GRANT SELECT, INSERT ON tenantry.event_keys TO tenantry_worker;
GRANT USAGE ON SEQUENCE tenantry.event_position_seq TO tenantry_worker;
GRANT SELECT ON tenantry.settings TO tenantry_worker;
GRANT SELECT ON tenantry.tenant_schemas TO tenantry_worker;
GRANT SELECT, INSERT ON tenantry.signed_heads TO tenantry_worker;

-- Cross-tenant machinery only: relay cursors, projection checkpoints, directory writes, job
-- claims. The API keeps reading its own tenant's checkpoint and directory row (RLS).
GRANT SELECT, INSERT, UPDATE ON tenantry.cursors TO tenantry_worker;
REVOKE ALL ON tenantry.cursors FROM tenantry_app;
GRANT SELECT, INSERT, UPDATE ON tenantry.projections TO tenantry_worker;
REVOKE INSERT, UPDATE ON tenantry.projections FROM tenantry_app;
GRANT SELECT, INSERT, UPDATE ON tenantry.tenants TO tenantry_worker;
REVOKE INSERT, UPDATE ON tenantry.tenants FROM tenantry_app;
GRANT SELECT, INSERT, UPDATE ON tenantry.job_runs TO tenantry_worker;
REVOKE ALL ON tenantry.job_runs FROM tenantry_app;
-- slug_claims and idempotency_keys stay the API's alone (tenantry_worker gets nothing).

-- Functions the API calls inside its tenant context, and the helpers they call (append_events
-- is SECURITY INVOKER: its caller needs EXECUTE on what it calls). Both roles.
REVOKE ALL ON FUNCTION tenantry.append_events(uuid, text, bigint, uuid[], text[], integer[], text[], text[], uuid[], integer[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.find_events(uuid, text, uuid[], text[], integer[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.event_hash(bytea, uuid, bigint, uuid, text, bigint, text, integer, jsonb, jsonb, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.event_hash_mid(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.event_hash_tail(text, integer, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.event_hash_link(bytea, bytea, bigint, bytea, bigint, bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.stream_version_conflict(text, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.tenant_schema_name(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.append_events(uuid, text, bigint, uuid[], text[], integer[], text[], text[], uuid[], integer[]),
    tenantry.find_events(uuid, text, uuid[], text[], integer[], text[]),
    tenantry.event_hash(bytea, uuid, bigint, uuid, text, bigint, text, integer, jsonb, jsonb, timestamptz),
    tenantry.event_hash_mid(uuid, text),
    tenantry.event_hash_tail(text, integer, text, text),
    tenantry.event_hash_link(bytea, bytea, bigint, bytea, bigint, bytea, bytea),
    tenantry.stream_version_conflict(text, bigint, bigint),
    tenantry.tenant_schema_name(uuid)
    TO tenantry_app, tenantry_worker;
-- Trigger functions run whoever fires them; nobody needs to call them.
REVOKE ALL ON FUNCTION tenantry.refuse_event_mutation() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenantry.refuse_key_mutation() FROM PUBLIC;

-- Directory facts for routing (slug, name, status, plan, Stripe customer id; no secret):
-- the API resolves tenants and Stripe webhooks with them before any tenant context exists,
-- and the operator's GET /v1/admin/tenants pages through them. Both roles.
GRANT EXECUTE ON FUNCTION tenantry.find_tenant(text, uuid),
    tenantry.find_tenant_by_customer(text),
    tenantry.list_tenants(uuid, integer)
    TO tenantry_worker;

-- Cross-tenant machinery: tenantry_worker only.
REVOKE ALL ON FUNCTION tenantry.read_all_events(xid8, bigint, integer) FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.migrate_tenant_schema(uuid) FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.rebuild_start(uuid) FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.rebuild_swap(uuid) FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.rebuild_cleanup(uuid) FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.tenant_schema_list() FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.projection_backlog(integer) FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.projection_failures() FROM tenantry_app;
REVOKE ALL ON FUNCTION tenantry.expire_idempotency_keys(interval) FROM tenantry_app;
GRANT EXECUTE ON FUNCTION tenantry.read_all_events(xid8, bigint, integer),
    tenantry.migrate_tenant_schema(uuid),
    tenantry.rebuild_start(uuid),
    tenantry.rebuild_swap(uuid),
    tenantry.rebuild_cleanup(uuid),
    tenantry.tenant_schema_list(),
    tenantry.projection_backlog(integer),
    tenantry.projection_failures(),
    tenantry.expire_idempotency_keys(interval)
    TO tenantry_worker;

-- Tenant schemas: both roles work inside tenant contexts (the API reads, the projector
-- writes), so new schemas grant DML to both, and existing ones (with any rebuild in flight)
-- get tenantry_worker's grants now.
-- +goose StatementBegin
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

    -- Each table accepts only its own tenant's rows, whatever the tenant context says (see
    -- the header of 00018_tenant_schema_owner.sql): a restrictive policy naming the tenant
    -- of the schema's name, added once per table.
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
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN SELECT n.nspname FROM pg_namespace n WHERE n.nspname ~ '^tenant_[0-9a-f]{32}(_rebuild|_old)?$' LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO tenantry_worker', s);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO tenantry_worker', s);
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO tenantry_worker', s);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- append_events, as in 00013, refusing a tenant other than the transaction's context first.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.append_events(
    p_tenant uuid, p_stream text, p_expected bigint,
    p_ids uuid[], p_types text[], p_versions integer[], p_data text[], p_metadata text[],
    p_keys uuid[] DEFAULT NULL, p_key_events integer[] DEFAULT NULL
) RETURNS TABLE (
    seq bigint, stream_version bigint, event_id uuid, "position" bigint,
    recorded_at timestamptz, hash bytea
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    n       integer := coalesce(cardinality(p_ids), 0);
    k       integer := coalesce(cardinality(p_keys), 0);
    written bigint;
    v_ver   bigint;
    v_seq   bigint;
    v_prev  bytea;
    v_hash  bytea;
    v_at    timestamptz;
    a_d     jsonb[];
    a_m     jsonb[];
    a_prev  bytea[];
    a_hash  bytea[];
    a_mid   bytea[];
    a_tail  bytea[];
    v_tb    bytea;
    v_atb   bytea;
    v_m1    text;
    v_j1    jsonb;
    v_t1    text;
BEGIN
    -- Only inside the tenant's own context, fail closed: without this check an append for
    -- another tenant took that tenant's append lock and relied on row-level security alone
    -- to refuse its insert.
    IF p_tenant IS DISTINCT FROM nullif(current_setting('tenantry.tenant_id', true), '')::uuid THEN
        RAISE EXCEPTION 'append to a tenant other than the transaction''s tenant context'
            USING ERRCODE = '42501';
    END IF;
    IF n = 0 THEN
        RAISE EXCEPTION 'append needs at least one event' USING ERRCODE = '22023';
    END IF;
    IF coalesce(cardinality(p_types), 0) <> n OR coalesce(cardinality(p_versions), 0) <> n
       OR coalesce(cardinality(p_data), 0) <> n OR coalesce(cardinality(p_metadata), 0) <> n THEN
        RAISE EXCEPTION 'append arrays differ in length' USING ERRCODE = '22023';
    END IF;
    IF k <> coalesce(cardinality(p_key_events), 0) THEN
        RAISE EXCEPTION 'append key arrays differ in length' USING ERRCODE = '22023';
    END IF;
    IF k > 0 AND EXISTS (SELECT FROM unnest(p_key_events) AS e WHERE e IS NULL OR e < 1 OR e > n) THEN
        RAISE EXCEPTION 'an append key names no event of its append' USING ERRCODE = '22023';
    END IF;

    -- Serialise this tenant's appends with a transaction-scoped lock on the tenant, taken
    -- before this transaction has an id: whoever gets it next takes a larger transaction id,
    -- so within a tenant the global (tx_id, position) order is seq order. It is its own
    -- statement: the append statement below takes its snapshot after the lock is held, so it
    -- reads the head row (last seq, hash, recorded_at) as the previous append committed it.
    -- Only this function writes the head and stream rows, and only under this lock.
    -- The lock's two-part key (class 7365710) also marks this transaction as an event
    -- writer for read_all_events, which waits only for such transactions.
    -- A transaction that wrote anything before its first append could not be told apart
    -- from one that never writes events: refuse it (see read_all_events).
    IF pg_current_xact_id_if_assigned() IS NOT NULL
       AND current_setting('tenantry.event_writer', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'events must be appended before any other write in a transaction'
            USING ERRCODE = '25000';
    END IF;
    -- A batch's documents are parsed, and the parts of each event's canonical encoding
    -- that do not depend on its place in the chain encoded, before the lock: the tenant's
    -- appends queue only for the chain walk and the insert.
    -- A batch's events usually share their metadata: it is parsed once. One large event
    -- (a batch of usage records, say) takes the same way, for the same reason.
    IF n > 1 OR octet_length(p_data[1]) > 2048 THEN
        v_m1 := p_metadata[1];
        v_j1 := v_m1::jsonb;
        v_t1 := v_j1::text;
        SELECT array_agg(x.d ORDER BY u.i), array_agg(x.m ORDER BY u.i),
               array_agg(tenantry.event_hash_mid(u.id, p_stream) ORDER BY u.i),
               array_agg(tenantry.event_hash_tail(u.typ, u.ver, x.d::text, x.mt) ORDER BY u.i)
          INTO a_d, a_m, a_mid, a_tail
          FROM unnest(p_ids, p_types, p_versions, p_data, p_metadata) WITH ORDINALITY AS u(id, typ, ver, d, m, i),
               LATERAL (SELECT y.d, y.m, CASE WHEN u.m = v_m1 THEN v_t1 ELSE y.m::text END AS mt
                          FROM (SELECT u.d::jsonb AS d, CASE WHEN u.m = v_m1 THEN v_j1 ELSE u.m::jsonb END AS m OFFSET 0) AS y) AS x;
    END IF;
    PERFORM pg_advisory_xact_lock(7365710, hashtext(p_tenant::text));
    PERFORM set_config('tenantry.event_writer', 'on', true);

    FOR attempt IN 1 .. 2 LOOP
        IF a_d IS NULL THEN
            -- One small event: no chain to walk.
            RETURN QUERY
            WITH s AS (
                -- The stream's version, checked against the expectation (a mismatch raises
                -- TYC01 and rolls everything back), joined with the tenant's head.
                -- recorded_at never goes backwards within a tenant, even if the clock does.
                UPDATE tenantry.streams AS st SET version = st.version + 1
                  FROM tenantry.tenant_heads AS th
                 WHERE st.tenant_id = p_tenant AND st.stream_id = p_stream AND th.tenant_id = p_tenant
                RETURNING CASE WHEN p_expected >= 0 AND st.version - 1 <> p_expected
                               THEN tenantry.stream_version_conflict(p_stream, st.version - 1, p_expected)
                               ELSE st.version END AS ver,
                          th.seq + 1 AS seq, th.hash AS prev,
                          greatest(clock_timestamp(), th.recorded_at) AS at,
                          p_data[1]::jsonb AS d, p_metadata[1]::jsonb AS m
            ),
            ins AS (
                INSERT INTO tenantry.events AS e (tenant_id, seq, stream_id, stream_version, event_id,
                                                  event_type, schema_version, data, metadata, recorded_at,
                                                  tx_id, position, prev_hash, hash)
                SELECT p_tenant, s.seq, p_stream, s.ver, p_ids[1], p_types[1], p_versions[1], s.d, s.m, s.at,
                       pg_current_xact_id(), nextval('tenantry.event_position_seq'), s.prev,
                       tenantry.event_hash(s.prev, p_tenant, s.seq, p_ids[1], p_stream, s.ver,
                                           p_types[1], p_versions[1], s.d, s.m, s.at)
                  FROM s
                RETURNING e.seq, e.stream_version, e.event_id, e.position, e.recorded_at, e.hash
            ),
            head AS (
                UPDATE tenantry.tenant_heads AS th
                   SET seq = ins.seq, hash = ins.hash, recorded_at = ins.recorded_at
                  FROM ins
                 WHERE th.tenant_id = p_tenant
            )
            SELECT ins.seq, ins.stream_version, ins.event_id, ins.position, ins.recorded_at, ins.hash
              FROM ins;
        ELSE
            -- A batch: its documents were parsed and encoded before the lock; walk the
            -- chain, then one statement inserts every event.
            UPDATE tenantry.streams AS st SET version = st.version + n
              FROM tenantry.tenant_heads AS th
             WHERE st.tenant_id = p_tenant AND st.stream_id = p_stream AND th.tenant_id = p_tenant
            RETURNING CASE WHEN p_expected >= 0 AND st.version - n <> p_expected
                           THEN tenantry.stream_version_conflict(p_stream, st.version - n, p_expected)
                           ELSE st.version - n END,
                      th.seq, th.hash, greatest(clock_timestamp(), th.recorded_at)
                 INTO v_ver, v_seq, v_prev, v_at;
            IF FOUND THEN
                -- The chain walk: each hash joins the precomputed parts with the event's
                -- place (previous hash, seq, stream version, time). Array variables are
                -- expanded, so subscripting them is constant time.
                a_prev := '{}'; a_hash := '{}';
                v_tb := pg_catalog.uuid_send(p_tenant);
                v_atb := pg_catalog.int8send((extract(epoch FROM v_at) * 1000000)::bigint);
                FOR i IN 1 .. n LOOP
                    v_hash := tenantry.event_hash_link(v_prev, v_tb, v_seq + i, a_mid[i], v_ver + i, a_tail[i], v_atb);
                    a_prev[i] := v_prev;
                    a_hash[i] := v_hash;
                    v_prev := v_hash;
                END LOOP;
                RETURN QUERY
                WITH ins AS (
                    INSERT INTO tenantry.events AS e (tenant_id, seq, stream_id, stream_version, event_id,
                                                      event_type, schema_version, data, metadata, recorded_at,
                                                      tx_id, position, prev_hash, hash)
                    SELECT p_tenant, v_seq + u.i, p_stream, v_ver + u.i, u.id, u.typ, u.ver, u.d, u.m, v_at,
                           pg_current_xact_id(), nextval('tenantry.event_position_seq'), u.prev, u.h
                      FROM unnest(p_ids, p_types, p_versions, a_d, a_m, a_prev, a_hash)
                           WITH ORDINALITY AS u(id, typ, ver, d, m, prev, h, i)
                     ORDER BY u.i
                    RETURNING e.seq, e.stream_version, e.event_id, e.position, e.recorded_at, e.hash
                ),
                head AS (
                    UPDATE tenantry.tenant_heads AS th SET seq = v_seq + n, hash = v_prev, recorded_at = v_at
                     WHERE th.tenant_id = p_tenant
                )
                SELECT ins.seq, ins.stream_version, ins.event_id, ins.position, ins.recorded_at, ins.hash
                  FROM ins;
            ELSE
                -- No stream or head yet: nothing written, so the loop below creates them.
                RETURN QUERY SELECT NULL::bigint, NULL::bigint, NULL::uuid, NULL::bigint, NULL::timestamptz, NULL::bytea WHERE false;
            END IF;
        END IF;
        GET DIAGNOSTICS written = ROW_COUNT;
        EXIT WHEN written > 0;
        -- Nothing written: the tenant's first append, or the stream's. Create the missing head
        -- (genesis: seq 0, 32 zero bytes) and stream (version 0), then append again. Under
        -- the lock no one else can create them meanwhile; RLS refuses a foreign tenant here.
        INSERT INTO tenantry.tenant_heads AS th (tenant_id, seq, hash, recorded_at)
        VALUES (p_tenant, 0, '\x0000000000000000000000000000000000000000000000000000000000000000', '-infinity')
        ON CONFLICT (tenant_id) DO NOTHING;
        INSERT INTO tenantry.streams AS st (tenant_id, stream_id, version)
        VALUES (p_tenant, p_stream, 0)
        ON CONFLICT (tenant_id, stream_id) DO NOTHING;
    END LOOP;
    IF written <> n THEN
        RAISE EXCEPTION 'append to stream % wrote % of % events', p_stream, written, n;
    END IF;
    -- The keys the events claim, each for good: one already claimed fails the whole append
    -- with a unique violation on event_keys (this tenant's appends are serialised by the
    -- lock, so a claim committed before it is always seen). The head now holds the last seq.
    IF k > 0 THEN
        INSERT INTO tenantry.event_keys AS ek (tenant_id, key_id, seq)
        SELECT p_tenant, c.id, th.seq - n + c.ev
          FROM unnest(p_keys, p_key_events) AS c(id, ev), tenantry.tenant_heads AS th
         WHERE th.tenant_id = p_tenant;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- append_events keeps its tenant-context check: every caller passes its context as p_tenant.
-- +goose StatementBegin
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN SELECT n.nspname FROM pg_namespace n WHERE n.nspname ~ '^tenant_[0-9a-f]{32}(_rebuild|_old)?$' LOOP
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM tenantry_worker', s);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM tenantry_worker', s);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM tenantry_worker', s);
    END LOOP;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
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
GRANT EXECUTE ON FUNCTION tenantry.read_all_events(xid8, bigint, integer),
    tenantry.migrate_tenant_schema(uuid),
    tenantry.rebuild_start(uuid),
    tenantry.rebuild_swap(uuid),
    tenantry.rebuild_cleanup(uuid),
    tenantry.tenant_schema_list(),
    tenantry.projection_backlog(integer),
    tenantry.projection_failures(),
    tenantry.expire_idempotency_keys(interval)
    TO tenantry_app;
GRANT EXECUTE ON FUNCTION tenantry.append_events(uuid, text, bigint, uuid[], text[], integer[], text[], text[], uuid[], integer[]),
    tenantry.find_events(uuid, text, uuid[], text[], integer[], text[]),
    tenantry.event_hash(bytea, uuid, bigint, uuid, text, bigint, text, integer, jsonb, jsonb, timestamptz),
    tenantry.event_hash_mid(uuid, text),
    tenantry.event_hash_tail(text, integer, text, text),
    tenantry.event_hash_link(bytea, bytea, bigint, bytea, bigint, bytea, bytea),
    tenantry.stream_version_conflict(text, bigint, bigint),
    tenantry.tenant_schema_name(uuid),
    tenantry.refuse_event_mutation(),
    tenantry.refuse_key_mutation()
    TO PUBLIC;
GRANT SELECT, INSERT, UPDATE ON tenantry.cursors, tenantry.projections, tenantry.tenants, tenantry.job_runs TO tenantry_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tenantry FROM tenantry_worker;
REVOKE ALL ON ALL TABLES IN SCHEMA tenantry FROM tenantry_worker;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA tenantry FROM tenantry_worker;
REVOKE ALL ON SCHEMA tenantry FROM tenantry_worker;
