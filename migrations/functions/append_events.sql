-- Append events to one stream of one tenant, all or nothing, in the caller's transaction.
-- The caller must have set tenantry.tenant_id to p_tenant (it refuses anything else).
--
-- The only writer of the chain: SECURITY DEFINER, owned by tenantry_owner, because the
-- runtime roles hold no INSERT, UPDATE or DELETE on events, event_keys, tenant_heads and
-- streams (00001_baseline.sql), so even a compromised API process inside its own tenant's
-- context cannot forge that tenant's chain or head. As the definer it must check the tenant
-- itself (first thing below); row-level security, forced on the owner too, scopes its
-- writes to the tenant context a second time. search_path is pinned, as every definer's.
-- p_expected: -1 any, 0 the stream must not exist, n > 0 the stream must be at version n.
-- A retry (event ids already stored) fails on the unique (tenant_id, event_id) index or on
-- the expected version; the caller then asks tenantry.find_events whether it was a retry.
--
-- Cost model (measured): an append is dominated by per-statement executor set-up (every
-- statement opens its relations and indexes, builds its RLS subplans, check constraints and
-- expressions again), not by the work itself. So after the lock, one statement does all of
-- it: bump the stream's version (checking the expectation), read the tenant's head, hash,
-- insert the events and move the head. Its plan is cached (generic: the statements only
-- touch one row of an unpartitioned table or insert into the partitioned one).
--
-- A batch's documents are parsed, and the parts of each event's chain encoding that do not
-- depend on its place in the chain encoded, before the tenant's lock (as is one large
-- event): under the lock remain only the chain walk (one SHA-256 per event over the
-- precomputed parts, in a loop over expanded arrays, not a recursive CTE) and the insert.
-- p_keys[i] is an idempotency key claimed for good by the event at index p_key_events[i]
-- (1-based) of this append, in tenantry.event_keys; a key claimed before fails the append.
-- p_u_* is what the append adds to the tenant's usage totals, one row per metric and quota
-- period of one event (p_u_events[i], 1-based, holds it; see usage_totals_add.sql, the one
-- statement both append functions share for it): none for an append without usage
-- records, which then costs nothing more.
DROP FUNCTION IF EXISTS tenantry.append_events(uuid,text,bigint,uuid[],text[],integer[],text[],text[],uuid[],integer[]);
CREATE OR REPLACE FUNCTION tenantry.append_events(
    p_tenant uuid, p_stream text, p_expected bigint,
    p_ids uuid[], p_types text[], p_versions integer[], p_data text[], p_metadata text[],
    p_keys uuid[] DEFAULT NULL, p_key_events integer[] DEFAULT NULL,
    p_u_events integer[] DEFAULT NULL, p_u_idx integer[] DEFAULT NULL, p_u_at bigint[] DEFAULT NULL,
    p_u_metrics text[] DEFAULT NULL, p_u_periods date[] DEFAULT NULL, p_u_sums text[] DEFAULT NULL,
    p_u_maxes text[] DEFAULT NULL, p_u_lasts text[] DEFAULT NULL, p_u_limits text[] DEFAULT NULL
) RETURNS TABLE (
    seq bigint, stream_version bigint, event_id uuid, "position" bigint,
    recorded_at timestamptz, hash bytea
)
LANGUAGE plpgsql SECURITY DEFINER
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
    v_mb1   bytea;
    v_ty1   text;
    v_tb1   bytea;
    v_done  text;
BEGIN
    -- Only inside the tenant's own context, fail closed: this function runs as its owner, so
    -- this check (not the caller's grants) is what keeps an append inside the caller's
    -- tenant; without it an append for another tenant would also take that tenant's lock.
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
    -- Nested, not `k > 0 AND EXISTS (...)`: an IF with a subquery runs as a query every time,
    -- and most appends claim no key.
    IF k > 0 THEN
        IF EXISTS (SELECT FROM unnest(p_key_events) AS e WHERE e IS NULL OR e < 1 OR e > n) THEN
            RAISE EXCEPTION 'an append key names no event of its append' USING ERRCODE = '22023';
        END IF;
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
    -- Each document is converted to its UTF-8 jsonb text once (the OFFSET 0 keeps the
    -- subquery from being flattened into the inlined event_hash_tail, which names each
    -- argument twice), and events sharing the first event's metadata or type share its bytes.
    IF n > 1 OR octet_length(p_data[1]) > 2048 THEN
        v_m1 := p_metadata[1];
        v_j1 := v_m1::jsonb;
        v_mb1 := convert_to(v_j1::text, 'UTF8');
        v_ty1 := p_types[1];
        v_tb1 := convert_to(v_ty1, 'UTF8');
        SELECT array_agg(x.d ORDER BY u.i), array_agg(x.m ORDER BY u.i),
               array_agg(tenantry.event_hash_mid(u.id, p_stream) ORDER BY u.i),
               array_agg(tenantry.event_hash_tail(x.tb, u.ver, x.db, x.mb) ORDER BY u.i)
          INTO a_d, a_m, a_mid, a_tail
          FROM unnest(p_ids, p_types, p_versions, p_data, p_metadata) WITH ORDINALITY AS u(id, typ, ver, d, m, i),
               LATERAL (SELECT y.d, y.m, convert_to(y.d::text, 'UTF8') AS db,
                               CASE WHEN u.m = v_m1 THEN v_mb1 ELSE convert_to(y.m::text, 'UTF8') END AS mb,
                               CASE WHEN u.typ = v_ty1 THEN v_tb1 ELSE convert_to(u.typ, 'UTF8') END AS tb
                          FROM (SELECT u.d::jsonb AS d, CASE WHEN u.m = v_m1 THEN v_j1 ELSE u.m::jsonb END AS m OFFSET 0) AS y
                        OFFSET 0) AS x;
    END IF;
    -- Assignments, not PERFORM: a PERFORM runs as a query (executor start and all), an
    -- assignment of a plain expression is evaluated directly. Still its own step, before
    -- the append statement takes its snapshot.
    v_done := pg_advisory_xact_lock(7365710, hashtext(p_tenant::text))::text;
    v_done := set_config('tenantry.event_writer', 'on', true);

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
                -- Each event's previous hash is the one before it in a_hash: built after the
                -- loop by one slice, not by an assignment per event.
                a_hash := '{}';
                v_hash := v_prev;
                v_tb := pg_catalog.uuid_send(p_tenant);
                v_atb := pg_catalog.int8send((extract(epoch FROM v_at) * 1000000)::bigint);
                FOR i IN 1 .. n LOOP
                    v_prev := tenantry.event_hash_link(v_prev, v_tb, v_seq + i, a_mid[i], v_ver + i, a_tail[i], v_atb);
                    a_hash[i] := v_prev;
                END LOOP;
                a_prev := array_prepend(v_hash, a_hash[1:n - 1]);
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
    -- The usage totals, after the events and keys: a retry or a claimed key fails above
    -- first, so a duplicate is never refused for a quota. A total beyond its hard quota
    -- raises TYQ01 and rolls the whole append back (usage_totals_add.sql).
    -- Each row's seq is its event's: the head now holds the append's last seq.
    IF p_u_events IS NOT NULL THEN
        v_done := tenantry.usage_totals_add(array_fill(p_tenant, ARRAY[cardinality(p_u_events)]),
            (SELECT array_agg(th.seq - n + e ORDER BY o) FROM tenantry.tenant_heads AS th, unnest(p_u_events) WITH ORDINALITY AS x(e, o)
              WHERE th.tenant_id = p_tenant),
            p_u_idx, p_u_at, p_u_metrics, p_u_periods, p_u_sums, p_u_maxes, p_u_lasts, p_u_limits)::text;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION tenantry.append_events(uuid,text,bigint,uuid[],text[],integer[],text[],text[],uuid[],integer[],integer[],integer[],bigint[],text[],date[],text[],text[],text[],text[]) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.append_events(uuid,text,bigint,uuid[],text[],integer[],text[],text[],uuid[],integer[],integer[],integer[],bigint[],text[],date[],text[],text[],text[],text[]) TO tenantry_app, tenantry_worker;
