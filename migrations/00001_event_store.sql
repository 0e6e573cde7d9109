-- The event store: one append-only table partitioned by HASH(tenant_id), a head row per
-- tenant that serialises appends and carries the hash chain, and the functions the runtime
-- role calls. Everything here is owned by tenantry_owner (migrate runs as that role).
-- The canonical encoding hashed by tenantry.event_hash is specified in eventstore/CHAIN.md;
-- eventstore/chain.go re-implements it in Go and the tests hold the two to each other.

-- +goose Up

CREATE TABLE tenantry.settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    set_at     timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE tenantry.event_position_seq AS bigint;

CREATE TABLE tenantry.events (
    tenant_id      uuid        NOT NULL,
    seq            bigint      NOT NULL CHECK (seq > 0),
    stream_id      text        NOT NULL CHECK (octet_length(stream_id) BETWEEN 1 AND 200),
    stream_version bigint      NOT NULL CHECK (stream_version > 0),
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND octet_length(event_type) <= 100),
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL,
    tx_id          xid8        NOT NULL,
    position       bigint      NOT NULL,
    prev_hash      bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash           bytea       NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, event_id),
    UNIQUE (tenant_id, stream_id, stream_version)
) PARTITION BY HASH (tenant_id);

-- The gap-safe global cursor reads in (tx_id, position) order.
CREATE INDEX events_tx_position_idx ON tenantry.events (tx_id, position);

COMMENT ON TABLE tenantry.events IS
    'Append-only, tenant-partitioned event log. UPDATE, DELETE and TRUNCATE are refused by triggers; see eventstore/CHAIN.md for the hash chain.';

-- One row per tenant: the last seq and hash. Appends lock it, so a tenant's seq order is its
-- commit order. recorded_at of the last event keeps recorded_at monotonic per tenant.
CREATE TABLE tenantry.tenant_heads (
    tenant_id   uuid        PRIMARY KEY,
    seq         bigint      NOT NULL CHECK (seq >= 0),
    hash        bytea       NOT NULL CHECK (octet_length(hash) = 32),
    recorded_at timestamptz NOT NULL
) WITH (fillfactor = 70);

-- Each stream's current version, for optimistic concurrency without reading the events.
-- Version 0 (no events yet) only exists inside the transaction of a stream's first append.
CREATE TABLE tenantry.streams (
    tenant_id uuid   NOT NULL,
    stream_id text   NOT NULL,
    version   bigint NOT NULL CHECK (version >= 0),
    PRIMARY KEY (tenant_id, stream_id)
) WITH (fillfactor = 70);

-- +goose StatementBegin
CREATE FUNCTION tenantry.refuse_event_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tenantry.events is append-only: % is refused', TG_OP
        USING ERRCODE = 'TYM01',
              HINT = 'events are immutable; record a compensating event instead';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON tenantry.events
    FOR EACH ROW EXECUTE FUNCTION tenantry.refuse_event_mutation();
-- Statement level too: under RLS an UPDATE may match no visible row, and it must still fail
-- loudly rather than quietly change nothing.
CREATE TRIGGER events_refuse_statement
    BEFORE UPDATE OR DELETE OR TRUNCATE ON tenantry.events
    FOR EACH STATEMENT EXECUTE FUNCTION tenantry.refuse_event_mutation();

-- Partitions: the count is fixed at the first migrate (session setting tenantry.partitions,
-- default 16) and recorded in tenantry.settings. Names are generated here, never from input.
-- +goose StatementBegin
DO $$
DECLARE
    n integer := coalesce(nullif(current_setting('tenantry.partitions', true), ''), '16')::integer;
    part text;
BEGIN
    IF n < 1 OR n > 1024 THEN
        RAISE EXCEPTION 'tenantry.partitions must be between 1 and 1024, got %', n;
    END IF;
    INSERT INTO tenantry.settings (key, value) VALUES ('event_partitions', n::text);
    FOR i IN 0 .. n - 1 LOOP
        part := format('events_p%s', lpad(i::text, 4, '0'));
        EXECUTE format('CREATE TABLE tenantry.%I PARTITION OF tenantry.events FOR VALUES WITH (MODULUS %s, REMAINDER %s)', part, n, i);
        -- Partitions do not inherit RLS or statement triggers: repeat both on each one.
        EXECUTE format('ALTER TABLE tenantry.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON tenantry.%I
            USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
            WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))$p$, part);
        EXECUTE format('CREATE POLICY owner_reads_all ON tenantry.%I FOR SELECT TO tenantry_owner USING (true)', part);
        EXECUTE format('CREATE TRIGGER events_refuse_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON tenantry.%I FOR EACH STATEMENT EXECUTE FUNCTION tenantry.refuse_event_mutation()', part);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Row-level security, failing closed: with tenantry.tenant_id unset the policy compares with
-- NULL and no row qualifies. FORCE applies it to the owner too; the owner may read every
-- tenant (it runs rebuilds and the global cursor function) but never writes through policy.
ALTER TABLE tenantry.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.events
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.events FOR SELECT TO tenantry_owner USING (true);

ALTER TABLE tenantry.tenant_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.tenant_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.tenant_heads
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.tenant_heads FOR SELECT TO tenantry_owner USING (true);

ALTER TABLE tenantry.streams ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.streams FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.streams
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.streams FOR SELECT TO tenantry_owner USING (true);

-- The chain hash of one event (CHAIN.md, encoding v1): same inputs, same hash. Declared STABLE,
-- not IMMUTABLE, because convert_to and extract(epoch FROM timestamptz) are STABLE: the planner
-- only inlines a SQL function whose body is no more volatile than its declaration, and an
-- IMMUTABLE declaration here made every call go through fmgr_sql, which parses and plans the
-- body again for each statement (once per append: the largest single cost of an append).
-- +goose StatementBegin
CREATE FUNCTION tenantry.event_hash(
    prev_hash bytea, tenant_id uuid, seq bigint, event_id uuid, stream_id text,
    stream_version bigint, event_type text, schema_version integer, data jsonb,
    metadata jsonb, recorded_at timestamptz
) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE
-- No SET clause: it would stop the planner from inlining this into the append statement.
-- Everything is schema-qualified instead (pg_catalog is always searched first for operators).
AS $$
    SELECT pg_catalog.sha256(
        '\x74656e616e7472792e6576656e742e7631'::bytea  -- 'tenantry.event.v1'
        || prev_hash
        || pg_catalog.uuid_send(tenant_id)
        || pg_catalog.int8send(seq)
        || pg_catalog.uuid_send(event_id)
        || pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(stream_id, 'UTF8'))) || pg_catalog.convert_to(stream_id, 'UTF8')
        || pg_catalog.int8send(stream_version)
        || pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(event_type, 'UTF8'))) || pg_catalog.convert_to(event_type, 'UTF8')
        || pg_catalog.int4send(schema_version)
        || pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(data::text, 'UTF8'))) || pg_catalog.convert_to(data::text, 'UTF8')
        || pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(metadata::text, 'UTF8'))) || pg_catalog.convert_to(metadata::text, 'UTF8')
        || pg_catalog.int8send((extract(epoch FROM recorded_at) * 1000000)::bigint)
    )
$$;
-- +goose StatementEnd

-- Raises the expected-version failure of an append (SQLSTATE TYC01, DETAIL = the actual
-- version). Called from inside the append statement, only when the versions differ.
-- +goose StatementBegin
CREATE FUNCTION tenantry.stream_version_conflict(p_stream text, p_actual bigint, p_expected bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'stream % is at version %, expected %', p_stream, p_actual, p_expected
        USING ERRCODE = 'TYC01', DETAIL = p_actual::text;
END
$$;
-- +goose StatementEnd

-- Append events to one stream of one tenant, all or nothing, in the caller's transaction.
-- The caller must have set tenantry.tenant_id to p_tenant (RLS refuses anything else).
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
-- +goose StatementBegin
CREATE FUNCTION tenantry.append_events(
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

-- Look up stored events by id for a retried append: each proposed id with where it landed
-- (NULL when not stored) and whether the stored event has the proposed content.
-- +goose StatementBegin
CREATE FUNCTION tenantry.find_events(
    p_tenant uuid, p_stream text, p_ids uuid[], p_types text[], p_versions integer[], p_data text[]
) RETURNS TABLE (
    seq bigint, stream_version bigint, event_id uuid, "position" bigint,
    recorded_at timestamptz, hash bytea, same boolean
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.seq, e.stream_version, u.id, e.position, e.recorded_at, e.hash,
           coalesce(e.stream_id = p_stream AND e.event_type = u.typ AND e.schema_version = u.ver
                    AND e.data = u.d::jsonb, false)
      FROM unnest(p_ids, p_types, p_versions, p_data) AS u(id, typ, ver, d)
      LEFT JOIN tenantry.events e ON e.tenant_id = p_tenant AND e.event_id = u.id
$$;
-- +goose StatementEnd

-- The gap-safe global cursor, for the relay and the tenant directory: every tenant's events
-- after (p_tx, p_position), in (tx_id, position) order, only from transactions below the
-- oldest one still running, so no later commit can land behind the cursor. SECURITY DEFINER
-- (owner, who may read all tenants) is the one sanctioned cross-tenant read path.
-- +goose StatementBegin
CREATE FUNCTION tenantry.read_all_events(p_tx xid8, p_position bigint, p_limit integer)
RETURNS SETOF tenantry.events
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.*
      FROM tenantry.events e
     WHERE (e.tx_id, e.position) > (p_tx, p_position)
       AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx_id, e.position
     LIMIT least(greatest(p_limit, 1), 10000)
$$;
-- +goose StatementEnd

-- Runtime grants: DML only, and for events no UPDATE or DELETE at all.
GRANT USAGE ON SCHEMA tenantry TO tenantry_app;
GRANT SELECT, INSERT ON tenantry.events TO tenantry_app;
GRANT SELECT, INSERT, UPDATE ON tenantry.tenant_heads TO tenantry_app;
GRANT SELECT, INSERT, UPDATE ON tenantry.streams TO tenantry_app;
GRANT SELECT ON tenantry.settings TO tenantry_app;
GRANT USAGE ON SEQUENCE tenantry.event_position_seq TO tenantry_app;
REVOKE ALL ON FUNCTION tenantry.read_all_events(xid8, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.read_all_events(xid8, bigint, integer) TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.read_all_events(xid8, bigint, integer);
DROP FUNCTION tenantry.find_events(uuid, text, uuid[], text[], integer[], text[]);
DROP FUNCTION tenantry.append_events(uuid, text, bigint, uuid[], text[], integer[], text[], text[]);
DROP FUNCTION tenantry.stream_version_conflict(text, bigint, bigint);
DROP FUNCTION tenantry.event_hash(bytea, uuid, bigint, uuid, text, bigint, text, integer, jsonb, jsonb, timestamptz);
DROP TABLE tenantry.streams;
DROP TABLE tenantry.tenant_heads;
DROP TABLE tenantry.events;
DROP FUNCTION tenantry.refuse_event_mutation();
DROP SEQUENCE tenantry.event_position_seq;
DROP TABLE tenantry.settings;
