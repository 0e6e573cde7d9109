-- Append a group of appends, possibly of many tenants, all or nothing, in one statement: the
-- group committer's path (eventstore/group.go). Each call i is what one append_events call
-- would be: tenant p_tenants[i], stream p_streams[i], expected version p_expected[i] (-1 any,
-- 0 no stream yet, n > 0 at version n), its events p_ids[p_lo[i]:p_hi[i]] (and the same
-- slices of p_types, p_versions, p_data, p_metadata), its keys p_keys[p_klo[i]:p_khi[i]],
-- claimed by the events at 1-based index p_key_events[...] of that call. Several calls may
-- name one stream: they apply in call order. It returns each event's row, led by its tenant:
-- a tenant's calls take consecutive seqs in call order, which is how the caller tells them
-- apart.
--
-- Why it exists: an append is dominated by per-statement executor set-up, not by its work.
-- append_events runs its statements once per call; this runs each once per group, so a
-- group of 16 single-event appends costs about as many statements as one of them.
--
-- The same guarantees as append_events, which it mirrors step by step:
-- - SECURITY DEFINER (the runtime roles cannot write the chain's tables themselves), so it
--   checks its callers' scope itself. A group spans tenants, so the caller's transaction has
--   no tenant context; a transaction that has one (any code inside InTenant) may only append
--   to that tenant here, as with append_events.
-- - Row-level security, forced on the owner, still scopes the writes: the owner's write
--   policies (00003_group_append.sql) admit exactly the tenants this function locked, which
--   it names in tenantry.append_tenants for the statement's duration and clears after.
-- - Each tenant's lock (class 7365710, which also marks an event writer for read_all_events)
--   is taken, in one order for every process, before the transaction has an id; and nothing
--   may have been written before it in the transaction.
-- - A retry, a stale expected version or a claimed key fails the whole group; the caller then
--   replays each append alone for its own outcome.
-- - The usage totals: p_u_* as in append_events, one row per metric and period of one event,
--   p_u_events[i] naming the event by its 1-based index in the group's event arrays; each
--   tenant's rows are added to that tenant's totals, checked against their hard quotas
--   (a total beyond one fails the group: its appends are then replayed alone).
DROP FUNCTION IF EXISTS tenantry.append_events_group(uuid[],text[],bigint[],integer[],integer[],integer[],integer[],uuid[],text[],integer[],text[],text[],uuid[],integer[]);
CREATE OR REPLACE FUNCTION tenantry.append_events_group(
    p_tenants uuid[], p_streams text[], p_expected bigint[],
    p_lo integer[], p_hi integer[], p_klo integer[], p_khi integer[],
    p_ids uuid[], p_types text[], p_versions integer[], p_data text[], p_metadata text[],
    p_keys uuid[], p_key_events integer[],
    p_u_events integer[] DEFAULT NULL, p_u_idx integer[] DEFAULT NULL, p_u_at bigint[] DEFAULT NULL,
    p_u_metrics text[] DEFAULT NULL, p_u_periods date[] DEFAULT NULL, p_u_sums text[] DEFAULT NULL,
    p_u_maxes text[] DEFAULT NULL, p_u_lasts text[] DEFAULT NULL, p_u_limits text[] DEFAULT NULL
) RETURNS TABLE (
    tenant_id uuid, seq bigint, stream_version bigint, event_id uuid, "position" bigint,
    recorded_at timestamptz, hash bytea
)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    c       integer := coalesce(cardinality(p_tenants), 0);
    n       integer := coalesce(cardinality(p_ids), 0);
    k       integer := coalesce(cardinality(p_keys), 0);
    v_ctx   uuid := nullif(current_setting('tenantry.tenant_id', true), '')::uuid;
    v_now   timestamptz;
    v_done  text;
    a_d     jsonb[];
    a_m     jsonb[];
    a_mid   bytea[];
    a_tail  bytea[];
    -- the group's tenants (sorted), their heads as read, then as moved
    h_t     uuid[];
    h_seq   bigint[];
    h_hash  bytea[];
    h_at    timestamptz[];
    h_atb   bytea[];
    h_tb    bytea[];
    -- the group's streams, 'tenant/stream', and each one's version before the group
    s_key   text[];
    s_ver   bigint[];
    s_n     integer;  -- the group's distinct streams
    -- per call: where its tenant and stream stood before it, and its instant
    c_seq   bigint[];
    c_ver   bigint[];
    c_prev  bytea[];
    c_at    timestamptz[];
    -- per event: its call, its hash, its previous hash (NULL for a call's first)
    e_call  integer[];
    e_prev  bytea[];
    e_hash  bytea[];
    -- per key
    k_t     uuid[];
    k_seq   bigint[];
    -- per usage row: its tenant and its event's seq
    u_t     uuid[];
    u_seq   bigint[];
    ti      integer;
    si      integer;
    v_ver   bigint;
    v_hash  bytea;
    v_lo    integer;
    v_seq   bigint;
    v_tb    bytea;
    v_atb   bytea;
BEGIN
    IF c = 0 OR n = 0 THEN
        RAISE EXCEPTION 'a group append needs at least one call and one event' USING ERRCODE = '22023';
    END IF;
    IF coalesce(cardinality(p_streams), 0) <> c OR coalesce(cardinality(p_expected), 0) <> c
       OR coalesce(cardinality(p_lo), 0) <> c OR coalesce(cardinality(p_hi), 0) <> c
       OR coalesce(cardinality(p_klo), 0) <> c OR coalesce(cardinality(p_khi), 0) <> c
       OR coalesce(cardinality(p_types), 0) <> n OR coalesce(cardinality(p_versions), 0) <> n
       OR coalesce(cardinality(p_data), 0) <> n OR coalesce(cardinality(p_metadata), 0) <> n
       OR coalesce(cardinality(p_key_events), 0) <> k THEN
        RAISE EXCEPTION 'group append arrays differ in length' USING ERRCODE = '22023';
    END IF;
    -- The calls' slices tile the event and key arrays in order, each call at least one event;
    -- e_call names each event's call.
    e_call := '{}';
    FOR i IN 1 .. c LOOP
        IF p_tenants[i] IS NULL OR p_streams[i] IS NULL OR p_expected[i] IS NULL
           OR p_lo[i] IS DISTINCT FROM (CASE WHEN i = 1 THEN 1 ELSE p_hi[i - 1] + 1 END)
           OR p_hi[i] IS NULL OR p_hi[i] < p_lo[i] OR p_hi[i] > n
           OR p_klo[i] IS DISTINCT FROM (CASE WHEN i = 1 THEN 1 ELSE p_khi[i - 1] + 1 END)
           OR p_khi[i] IS NULL OR p_khi[i] < p_klo[i] - 1 OR p_khi[i] > k THEN
            RAISE EXCEPTION 'group append call % has bad bounds', i USING ERRCODE = '22023';
        END IF;
        FOR j IN p_lo[i] .. p_hi[i] LOOP
            e_call[j] := i;
        END LOOP;
        FOR j IN p_klo[i] .. p_khi[i] LOOP
            IF p_key_events[j] IS NULL OR p_key_events[j] < 1 OR p_key_events[j] > p_hi[i] - p_lo[i] + 1 THEN
                RAISE EXCEPTION 'an append key names no event of its append' USING ERRCODE = '22023';
            END IF;
        END LOOP;
    END LOOP;
    IF p_hi[c] <> n OR p_khi[c] <> k THEN
        RAISE EXCEPTION 'group append call bounds do not cover its arrays' USING ERRCODE = '22023';
    END IF;
    -- Inside one tenant's context, only that tenant (see append_events).
    -- Nested, as in append_events: an IF with a subquery runs as a query every time, and the
    -- group committer's transactions have no tenant context.
    IF v_ctx IS NOT NULL THEN
        IF EXISTS (SELECT FROM unnest(p_tenants) AS t WHERE t <> v_ctx) THEN
            RAISE EXCEPTION 'append to a tenant other than the transaction''s tenant context'
                USING ERRCODE = '42501';
        END IF;
    END IF;
    IF pg_current_xact_id_if_assigned() IS NOT NULL
       AND current_setting('tenantry.event_writer', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'events must be appended before any other write in a transaction'
            USING ERRCODE = '25000';
    END IF;

    -- Before the locks: parse every document (each distinct metadata document once: a
    -- batch's events share theirs) and encode the parts of each event's chain
    -- encoding that do not depend on its place in the chain (as append_events does for a batch).
    SELECT array_agg(x.d ORDER BY u.i), array_agg(x.m ORDER BY u.i),
           array_agg(tenantry.event_hash_mid(u.id, p_streams[u.c]) ORDER BY u.i),
           array_agg(tenantry.event_hash_tail(convert_to(u.typ, 'UTF8'), u.ver, x.db, x.mb) ORDER BY u.i)
      INTO a_d, a_m, a_mid, a_tail
      FROM unnest(e_call, p_ids, p_types, p_versions, p_data, p_metadata) WITH ORDINALITY AS u(c, id, typ, ver, d, mt, i)
      JOIN (SELECT md.mt, md.m, convert_to(md.m::text, 'UTF8') AS mb
              FROM (SELECT mt, mt::jsonb AS m FROM (SELECT DISTINCT mt FROM unnest(p_metadata) AS mt) AS dm OFFSET 0) AS md
            OFFSET 0) AS mm ON mm.mt = u.mt,
           LATERAL (SELECT y.d, mm.m, convert_to(y.d::text, 'UTF8') AS db, mm.mb
                      FROM (SELECT u.d::jsonb AS d OFFSET 0) AS y OFFSET 0) AS x;

    -- The tenants' locks, in one order, before this transaction has an id.
    SELECT array_agg(t ORDER BY hashtext(t::text), t) INTO h_t FROM (SELECT DISTINCT t FROM unnest(p_tenants) AS t) AS d;
    FOR i IN 1 .. cardinality(h_t) LOOP
        v_done := pg_advisory_xact_lock(7365710, hashtext(h_t[i]::text))::text;
    END LOOP;
    v_done := set_config('tenantry.event_writer', 'on', true);
    v_done := set_config('tenantry.append_tenants', array_to_string(h_t, ','), true);

    -- Heads and streams: the missing ones are created (genesis: seq 0, 32 zero bytes; version
    -- 0), then every stream moves by its calls' events, and each head is read. Under the locks
    -- no one else writes them meanwhile.
    INSERT INTO tenantry.tenant_heads AS th (tenant_id, seq, hash, recorded_at)
    SELECT t, 0, '\x0000000000000000000000000000000000000000000000000000000000000000', '-infinity'
      FROM unnest(h_t) AS t
    ON CONFLICT (tenant_id) DO NOTHING;
    INSERT INTO tenantry.streams AS st (tenant_id, stream_id, version)
    SELECT DISTINCT t, s, 0 FROM unnest(p_tenants, p_streams) AS x(t, s)
    ON CONFLICT (tenant_id, stream_id) DO NOTHING;
    WITH x AS (
        SELECT t, s, sum(hi - lo + 1) AS cnt FROM unnest(p_tenants, p_streams, p_lo, p_hi) AS x(t, s, lo, hi)
         GROUP BY t, s
    ), up AS (
        UPDATE tenantry.streams AS st SET version = st.version + x.cnt
          FROM x WHERE st.tenant_id = x.t AND st.stream_id = x.s
        RETURNING st.tenant_id::text || '/' || st.stream_id AS key, st.version - x.cnt AS before
    )
    SELECT array_agg(up.key), array_agg(up.before), (SELECT count(*) FROM x) INTO s_key, s_ver, s_n FROM up;
    SELECT array_agg(th.seq ORDER BY o.i), array_agg(th.hash ORDER BY o.i),
           array_agg(th.recorded_at ORDER BY o.i)
      INTO h_seq, h_hash, h_at
      FROM unnest(h_t) WITH ORDINALITY AS o(t, i) JOIN tenantry.tenant_heads AS th ON th.tenant_id = o.t;
    -- Plain values, no subquery: an IF with one runs as a query on every group.
    IF cardinality(h_seq) IS DISTINCT FROM cardinality(h_t) OR cardinality(s_key) IS DISTINCT FROM s_n THEN
        RAISE EXCEPTION 'group append found % heads of % tenants and % streams of %',
            cardinality(h_seq), cardinality(h_t), cardinality(s_key), s_n;
    END IF;

    -- The chain walk, call by call in order: each event's hash joins the precomputed parts
    -- with its place (previous hash, seq, stream version, time). A call's events take seqs
    -- and versions in a row from where its tenant and stream stand (c_seq, c_ver) and its
    -- first event links to c_prev; the loop keeps only each event's hash. recorded_at never
    -- goes backwards within a tenant, even if the clock does; a tenant's calls in one group
    -- share one instant.
    v_now := clock_timestamp();
    h_atb := '{}';
    h_tb := '{}';
    e_hash := '{}';
    c_seq := '{}'; c_ver := '{}'; c_prev := '{}'; c_at := '{}';
    k_t := '{}'; k_seq := '{}';
    FOR i IN 1 .. cardinality(h_t) LOOP
        h_at[i] := greatest(v_now, h_at[i]);
        h_atb[i] := pg_catalog.int8send((extract(epoch FROM h_at[i]) * 1000000)::bigint);
        h_tb[i] := pg_catalog.uuid_send(h_t[i]);
    END LOOP;
    FOR i IN 1 .. c LOOP
        ti := array_position(h_t, p_tenants[i]);
        si := array_position(s_key, p_tenants[i]::text || '/' || p_streams[i]);
        v_ver := s_ver[si];
        IF p_expected[i] >= 0 AND v_ver <> p_expected[i] THEN
            v_done := tenantry.stream_version_conflict(p_streams[i], v_ver, p_expected[i])::text;
        END IF;
        v_lo := p_lo[i];
        v_seq := h_seq[ti] - v_lo + 1;  -- event j's seq is v_seq + j
        v_ver := v_ver - v_lo + 1;      -- and its stream version v_ver + j
        v_hash := h_hash[ti];
        v_tb := h_tb[ti];
        v_atb := h_atb[ti];
        c_seq[i] := h_seq[ti];
        c_ver[i] := s_ver[si];
        c_prev[i] := v_hash;
        c_at[i] := h_at[ti];
        FOR j IN v_lo .. p_hi[i] LOOP
            v_hash := tenantry.event_hash_link(v_hash, v_tb, v_seq + j, a_mid[j], v_ver + j, a_tail[j], v_atb);
            e_hash[j] := v_hash;
        END LOOP;
        h_seq[ti] := v_seq + p_hi[i];
        s_ver[si] := v_ver + p_hi[i];
        h_hash[ti] := v_hash;
        FOR j IN p_klo[i] .. p_khi[i] LOOP
            k_t[j] := p_tenants[i];
            k_seq[j] := c_seq[i] + p_key_events[j];
        END LOOP;
    END LOOP;
    -- Each event's previous hash: the one before it in e_hash, or its call's c_prev.
    e_prev := array_prepend(NULL::bytea, e_hash[1:n - 1]);

    -- One statement inserts every event (positions drawn in event order, so within a tenant
    -- position order is seq order) and moves every head.
    RETURN QUERY
    WITH ins AS (
        INSERT INTO tenantry.events AS e (tenant_id, seq, stream_id, stream_version, event_id,
                                          event_type, schema_version, data, metadata, recorded_at,
                                          tx_id, position, prev_hash, hash)
        SELECT p_tenants[u.c], c_seq[u.c] + u.i - p_lo[u.c] + 1, p_streams[u.c], c_ver[u.c] + u.i - p_lo[u.c] + 1,
               u.id, u.typ, u.sv, u.d, u.m, c_at[u.c], pg_current_xact_id(), nextval('tenantry.event_position_seq'),
               CASE WHEN u.i = p_lo[u.c] THEN c_prev[u.c] ELSE u.prev END, u.h
          FROM unnest(e_call, p_ids, p_types, p_versions, a_d, a_m, e_prev, e_hash)
               WITH ORDINALITY AS u(c, id, typ, sv, d, m, prev, h, i)
         ORDER BY u.i
        RETURNING e.tenant_id, e.seq, e.stream_version, e.event_id, e.position, e.recorded_at, e.hash
    ),
    head AS (
        UPDATE tenantry.tenant_heads AS th SET seq = x.seq, hash = x.h, recorded_at = x.at
          FROM unnest(h_t, h_seq, h_hash, h_at) AS x(t, seq, h, at)
         WHERE th.tenant_id = x.t
    )
    SELECT * FROM ins;
    IF k > 0 THEN
        INSERT INTO tenantry.event_keys AS ek (tenant_id, key_id, seq)
        SELECT x.t, x.id, x.seq FROM unnest(k_t, p_keys, k_seq) AS x(t, id, seq);
    END IF;
    -- The usage totals, after the events and keys (as in append_events): each row's tenant
    -- and seq come from its event's call, in a loop of assignments, not a query.
    IF p_u_events IS NOT NULL THEN
        u_t := '{}'; u_seq := '{}';
        FOR j IN 1 .. cardinality(p_u_events) LOOP
            ti := e_call[p_u_events[j]];
            IF ti IS NULL THEN
                RAISE EXCEPTION 'a usage total names no event of its group' USING ERRCODE = '22023';
            END IF;
            u_t[j] := p_tenants[ti];
            u_seq[j] := c_seq[ti] + p_u_events[j] - p_lo[ti] + 1;
        END LOOP;
        v_done := tenantry.usage_totals_add(u_t, u_seq, p_u_idx, p_u_at, p_u_metrics, p_u_periods,
                                            p_u_sums, p_u_maxes, p_u_lasts, p_u_limits)::text;
    END IF;
    v_done := set_config('tenantry.append_tenants', '', true);
END
$$;

REVOKE ALL ON FUNCTION tenantry.append_events_group(uuid[],text[],bigint[],integer[],integer[],integer[],integer[],uuid[],text[],integer[],text[],text[],uuid[],integer[],integer[],integer[],bigint[],text[],date[],text[],text[],text[],text[]) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.append_events_group(uuid[],text[],bigint[],integer[],integer[],integer[],integer[],uuid[],text[],integer[],text[],text[],uuid[],integer[],integer[],integer[],bigint[],text[],date[],text[],text[],text[],text[]) TO tenantry_app, tenantry_worker;
