-- The event store's append and cross-tenant read, second version.
--
-- append_events walks a batch's hash chain in a loop over the unnested arrays, instead of a
-- recursive CTE that indexed the text arrays once per event (each index is a walk from the
-- array's start: quadratic in the batch size). Same results, same hashes.
--
-- The gap-safe cursor waited for every transaction on the server that had an id, writer or
-- not: a long CREATE DATABASE, a report in another database or a projection's commit held
-- every tenant's events back. Event writers now mark themselves by the class of their
-- tenant lock (taken before any write), and read_all_events waits only for them.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.append_events(
    p_tenant uuid, p_stream text, p_expected bigint,
    p_ids uuid[], p_types text[], p_versions integer[], p_data text[], p_metadata text[]
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
    written bigint;
    v_ver   bigint;
    v_seq   bigint;
    v_prev  bytea;
    v_hash  bytea;
    v_at    timestamptz;
    v_rec   record;
    a_d     jsonb[];
    a_m     jsonb[];
    a_prev  bytea[];
    a_hash  bytea[];
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'append needs at least one event' USING ERRCODE = '22023';
    END IF;
    IF coalesce(cardinality(p_types), 0) <> n OR coalesce(cardinality(p_versions), 0) <> n
       OR coalesce(cardinality(p_data), 0) <> n OR coalesce(cardinality(p_metadata), 0) <> n THEN
        RAISE EXCEPTION 'append arrays differ in length' USING ERRCODE = '22023';
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
    PERFORM pg_advisory_xact_lock(7365710, hashtext(p_tenant::text));
    PERFORM set_config('tenantry.event_writer', 'on', true);

    FOR attempt IN 1 .. 2 LOOP
        IF n = 1 THEN
            -- One event: no chain to walk.
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
            -- A batch. The chain is walked by a loop over the unnested arrays (one pass:
            -- subscripting a text array is a walk from its start, so indexing it per event
            -- would cost quadratic time), then one statement inserts every event.
            UPDATE tenantry.streams AS st SET version = st.version + n
              FROM tenantry.tenant_heads AS th
             WHERE st.tenant_id = p_tenant AND st.stream_id = p_stream AND th.tenant_id = p_tenant
            RETURNING CASE WHEN p_expected >= 0 AND st.version - n <> p_expected
                           THEN tenantry.stream_version_conflict(p_stream, st.version - n, p_expected)
                           ELSE st.version - n END,
                      th.seq, th.hash, greatest(clock_timestamp(), th.recorded_at)
                 INTO v_ver, v_seq, v_prev, v_at;
            IF FOUND THEN
                a_d := '{}'; a_m := '{}'; a_prev := '{}'; a_hash := '{}';
                FOR v_rec IN
                    SELECT u.id, u.typ, u.ver, u.d::jsonb AS d, u.m::jsonb AS m, u.i
                      FROM unnest(p_ids, p_types, p_versions, p_data, p_metadata) WITH ORDINALITY AS u(id, typ, ver, d, m, i)
                LOOP
                    v_hash := tenantry.event_hash(v_prev, p_tenant, v_seq + v_rec.i, v_rec.id, p_stream, v_ver + v_rec.i,
                                                  v_rec.typ, v_rec.ver, v_rec.d, v_rec.m, v_at);
                    a_d := array_append(a_d, v_rec.d);
                    a_m := array_append(a_m, v_rec.m);
                    a_prev := array_append(a_prev, v_prev);
                    a_hash := array_append(a_hash, v_hash);
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
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.read_all_events(p_tx xid8, p_position bigint, p_limit integer)
RETURNS SETOF tenantry.events
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- S1: the transactions running now.
    snap    pg_snapshot := pg_current_snapshot();
    horizon xid8;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'read_all_events needs a fresh snapshot per statement: call it in READ COMMITTED'
            USING ERRCODE = '25001';
    END IF;
    -- The horizon is the oldest running transaction that may still write events. Event
    -- writers take a lock of class 7365710 before their first write (append_events refuses
    -- to run otherwise), so a transaction that has an id but holds no such lock in this
    -- database can never write events, and is passed over: projections, cursors, other
    -- databases on the server, CREATE DATABASE. A transaction is passed over only when the
    -- lock table shows its id held by such a non-writer; one whose id is not (yet) there
    -- counts, to be safe. A writer running at S1 and finished by the time the lock table
    -- is read has committed or aborted, so the next statement, with a snapshot taken after
    -- this one, sees all of it; a writer that takes its id after S1 gets one at or above
    -- S1's xmax, where the horizon stops anyway.
    WITH locks AS MATERIALIZED (
        SELECT l.locktype, l.virtualtransaction, l.transactionid, l.classid, l.objsubid, l.database
          FROM pg_locks l
         WHERE l.granted AND l.locktype IN ('transactionid', 'advisory')
    ),
    writers AS (
        SELECT DISTINCT a.virtualtransaction FROM locks a
         WHERE a.locktype = 'advisory' AND a.classid = 7365710 AND a.objsubid = 2
           AND a.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ),
    non_writers AS (
        SELECT t.transactionid::text::bigint AS xid32 FROM locks t
         WHERE t.locktype = 'transactionid' AND t.transactionid IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM writers w WHERE w.virtualtransaction = t.virtualtransaction)
    )
    SELECT min(x) INTO horizon
      FROM pg_snapshot_xip(snap) AS x
     WHERE (x::text::bigint % 4294967296) NOT IN (SELECT xid32 FROM non_writers);
    horizon := coalesce(horizon, pg_snapshot_xmax(snap));
    -- S2: a new snapshot, taken after the lock table was read.
    RETURN QUERY
    SELECT e.*
      FROM tenantry.events e
     WHERE (e.tx_id, e.position) > (p_tx, p_position)
       AND e.tx_id < horizon
     ORDER BY e.tx_id, e.position
     LIMIT least(greatest(p_limit, 1), 10000);
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.append_events(
    p_tenant uuid, p_stream text, p_expected bigint,
    p_ids uuid[], p_types text[], p_versions integer[], p_data text[], p_metadata text[]
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
    written bigint;
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'append needs at least one event' USING ERRCODE = '22023';
    END IF;
    IF coalesce(cardinality(p_types), 0) <> n OR coalesce(cardinality(p_versions), 0) <> n
       OR coalesce(cardinality(p_data), 0) <> n OR coalesce(cardinality(p_metadata), 0) <> n THEN
        RAISE EXCEPTION 'append arrays differ in length' USING ERRCODE = '22023';
    END IF;

    -- Serialise this tenant's appends with a transaction-scoped lock on the tenant, taken
    -- before this transaction has an id: whoever gets it next takes a larger transaction id,
    -- so within a tenant the global (tx_id, position) order is seq order. It is its own
    -- statement: the append statement below takes its snapshot after the lock is held, so it
    -- reads the head row (last seq, hash, recorded_at) as the previous append committed it.
    -- Only this function writes the head and stream rows, and only under this lock.
    PERFORM pg_advisory_xact_lock(hashtextextended(p_tenant::text, 7365710));

    FOR attempt IN 1 .. 2 LOOP
        IF n = 1 THEN
            -- One event: no chain to walk.
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
            -- A batch: the chain is walked by a recursive CTE, one event per step, so each
            -- event's hash covers the previous one and positions are taken in seq order.
            RETURN QUERY
            WITH RECURSIVE s AS (
                UPDATE tenantry.streams AS st SET version = st.version + n
                  FROM tenantry.tenant_heads AS th
                 WHERE st.tenant_id = p_tenant AND st.stream_id = p_stream AND th.tenant_id = p_tenant
                RETURNING CASE WHEN p_expected >= 0 AND st.version - n <> p_expected
                               THEN tenantry.stream_version_conflict(p_stream, st.version - n, p_expected)
                               ELSE st.version - n END AS ver,
                          th.seq, th.hash, greatest(clock_timestamp(), th.recorded_at) AS at
            ),
            chain (i, prev, h, d, m, pos) AS (
                SELECT 0, NULL::bytea, s.hash, NULL::jsonb, NULL::jsonb, NULL::bigint FROM s
              UNION ALL
                SELECT c.i + 1, c.h,
                       tenantry.event_hash(c.h, p_tenant, s.seq + c.i + 1, p_ids[c.i + 1], p_stream,
                                           s.ver + c.i + 1, p_types[c.i + 1], p_versions[c.i + 1],
                                           x.d, x.m, s.at),
                       x.d, x.m, nextval('tenantry.event_position_seq')
                  FROM chain AS c CROSS JOIN s,
                       -- OFFSET 0 keeps each document parsed once (not once per reference).
                       LATERAL (SELECT p_data[c.i + 1]::jsonb AS d, p_metadata[c.i + 1]::jsonb AS m OFFSET 0) AS x
                 WHERE c.i < n
            ),
            ins AS (
                INSERT INTO tenantry.events AS e (tenant_id, seq, stream_id, stream_version, event_id,
                                                  event_type, schema_version, data, metadata, recorded_at,
                                                  tx_id, position, prev_hash, hash)
                SELECT p_tenant, s.seq + c.i, p_stream, s.ver + c.i, p_ids[c.i], p_types[c.i], p_versions[c.i],
                       c.d, c.m, s.at, pg_current_xact_id(), c.pos, c.prev, c.h
                  FROM chain AS c CROSS JOIN s
                 WHERE c.i > 0
                RETURNING e.seq, e.stream_version, e.event_id, e.position, e.recorded_at, e.hash
            ),
            head AS (
                UPDATE tenantry.tenant_heads AS th SET seq = s.seq + n, hash = c.h, recorded_at = s.at
                  FROM chain AS c CROSS JOIN s
                 WHERE c.i = n AND th.tenant_id = p_tenant
            )
            SELECT ins.seq, ins.stream_version, ins.event_id, ins.position, ins.recorded_at, ins.hash
              FROM ins;
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
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.read_all_events(p_tx xid8, p_position bigint, p_limit integer)
RETURNS SETOF tenantry.events
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    SELECT e.*
      FROM tenantry.events e
     WHERE (e.tx_id, e.position) > (p_tx, p_position)
       AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx_id, e.position
     LIMIT least(greatest(p_limit, 1), 10000);
END
$$;
-- +goose StatementEnd
