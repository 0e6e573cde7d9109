-- The shared schema as it stood after the migrations 00001 to 00018 of the first builds,
-- squashed into one baseline (issue 16) before any production deployment: tables, partitions,
-- row-level security, indexes and grants. It holds no function: each function's current
-- definition lives in one file of migrations/functions/, which `migrate` applies after this
-- migration and before any later one (see functions.go). What needs a function (the
-- append-only triggers) is in 00002_baseline_triggers.sql, which runs after them.
--
-- Shipped migrations never change; add a new one. Functions change by editing their file.
-- Everything here is owned by tenantry_owner (migrate runs as that role); the roles and the
-- schema are created by the bootstrap in migrate.go, before any migration.
--
-- Row-level security fails closed throughout: with tenantry.tenant_id unset the policy
-- compares with NULL and no row qualifies. FORCE applies it to the owner too; the owner may
-- read every tenant (it runs rebuilds and the global cursor function) but never writes
-- through policy.
--
-- Roles: tenantry_app is the internet-facing API's login. It reaches tenant data only inside
-- its tenant context (row-level security) and through functions that either check that
-- context (fail closed) or return non-secret directory facts for routing. tenantry_worker is
-- the cross-tenant machinery's login (relay, projector, directory, rebuild, head signer,
-- billing worker, janitors). It too is NOBYPASSRLS: its tenant-table reads and writes happen
-- under a tenant context like the API's; only its SECURITY DEFINER functions work across
-- tenants. The rule for every new object: tables holding tenant data get RLS and DML for
-- the role(s) that use them under a tenant context; a function that takes a tenant id and
-- does not check it against current_setting('tenantry.tenant_id'), or works across tenants,
-- is granted to tenantry_worker only; every function file revokes EXECUTE from PUBLIC
-- (PostgreSQL grants it by default) before granting it. migrations/roles_test.go holds the
-- allow-list of what each role may do and fails on anything new, so each addition is
-- reviewed. The matrix is in README.md ("How isolation and integrity are enforced", Roles).

-- +goose Up

CREATE TABLE tenantry.settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    set_at     timestamptz NOT NULL DEFAULT now()
);

-- Each function file's SHA-256 as last applied: migrate re-applies a file only when it changed.
CREATE TABLE tenantry.function_versions (
    name       text        PRIMARY KEY,
    sha256     bytea       NOT NULL CHECK (octet_length(sha256) = 32),
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- The event store: one append-only table partitioned by HASH(tenant_id), a head row per
-- tenant that serialises appends and carries the hash chain (eventstore/CHAIN.md).

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

-- Idempotency keys an append claims for good: key id -> seq of the event that holds it,
-- inserted by append_events under the tenant's lock, so a key claimed before fails the whole
-- append with a unique violation. Key ids are derived by the domain (usage.RecordEventID).
CREATE TABLE tenantry.event_keys (
    tenant_id uuid   NOT NULL,
    key_id    uuid   NOT NULL,
    seq       bigint NOT NULL CHECK (seq > 0),
    PRIMARY KEY (tenant_id, key_id)
) PARTITION BY HASH (tenant_id);

COMMENT ON TABLE tenantry.event_keys IS
    'Idempotency keys claimed by appends, one row per key and tenant, written only by tenantry.append_events; never updated or deleted.';

-- Partitions: the count is fixed at the first migrate (session setting tenantry.partitions,
-- default 16) and recorded in tenantry.settings; event_keys has as many, by the same hash.
-- Names are generated here, never from input. Partitions do not inherit RLS: it is repeated
-- on each one (and their statement triggers in 00002_baseline_triggers.sql).
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
    END LOOP;
    FOR i IN 0 .. n - 1 LOOP
        part := format('event_keys_p%s', lpad(i::text, 4, '0'));
        EXECUTE format('CREATE TABLE tenantry.%I PARTITION OF tenantry.event_keys FOR VALUES WITH (MODULUS %s, REMAINDER %s)', part, n, i);
    END LOOP;
    FOR part IN SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent IN ('tenantry.events'::regclass, 'tenantry.event_keys'::regclass)
                 ORDER BY c.relname LOOP
        EXECUTE format('ALTER TABLE tenantry.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON tenantry.%I
            USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
            WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))$p$, part);
        EXECUTE format('CREATE POLICY owner_reads_all ON tenantry.%I FOR SELECT TO tenantry_owner USING (true)', part);
    END LOOP;
END
$$;
-- +goose StatementEnd

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

ALTER TABLE tenantry.event_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.event_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.event_keys
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.event_keys FOR SELECT TO tenantry_owner USING (true);

-- Tenant schemas: one schema per tenant, named tenant_<32 hex of the tenant id>, owned by
-- tenantry_owner, built from the tenant migrations in migrations/tenant/ (which `tenantry
-- migrate` copies into tenantry.tenant_migrations) by migrate_tenant_schema.

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

-- Where each relay (and any other global-cursor follower) has got to in the all-tenants
-- order, so a restart resumes instead of starting over. Not tenant data: no tenant_id.
CREATE TABLE tenantry.cursors (
    name       text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]{0,62}$'),
    tx_id      xid8        NOT NULL,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Projection state per tenant and projection: how far its read models have got (written in
-- the same transaction as the effects, so they happen exactly once) and, when an event could
-- not be applied, which one and why. 'auth' (profile with status and plan, members,
-- invitations, API keys, the billing state) and 'usage' (hourly and daily usage, reported
-- usage) each apply the tenant's events in order and stop on their own.
CREATE TABLE tenantry.projections (
    tenant_id    uuid        NOT NULL,
    seq          bigint      NOT NULL DEFAULT 0 CHECK (seq >= 0),
    failed_seq   bigint,
    failed_error text,
    failed_at    timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    projection   text        NOT NULL CHECK (projection IN ('auth', 'usage')),
    PRIMARY KEY (tenant_id, projection)
);
ALTER TABLE tenantry.projections ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.projections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.projections
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.projections FOR SELECT TO tenantry_owner USING (true);

-- The tenant directory: one row per tenant, projected from every tenant's events by the
-- global cursor, for routing (slug to tenant) and for workers and operators. Row-level
-- security lets a tenant's context see its own row; lookups across tenants go through
-- SECURITY DEFINER functions (find_tenant, ...), which return directory rows only.
CREATE TABLE tenantry.tenants (
    tenant_id          uuid        PRIMARY KEY,
    slug               text        NOT NULL UNIQUE,
    name               text        NOT NULL,
    status             text        NOT NULL,
    plan               text        NOT NULL,
    schema_name        text        NOT NULL,
    stripe_customer_id text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    seq                bigint      NOT NULL  -- the tenant event this row reflects
);
-- Stripe webhooks name a customer, not a tenant (find_tenant_by_customer).
CREATE INDEX tenants_stripe_customer ON tenantry.tenants (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL;
ALTER TABLE tenantry.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.tenants
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.tenants FOR SELECT TO tenantry_owner USING (true);

-- Slug claims: a tenant's slug is claimed, under a unique constraint, before its
-- tenant.created event is appended, so two sign-ups racing for one slug cannot both win
-- (the directory is projected later and could only notice afterwards).
CREATE TABLE tenantry.slug_claims (
    slug       text        PRIMARY KEY,
    tenant_id  uuid        NOT NULL UNIQUE,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenantry.slug_claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.slug_claims FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.slug_claims
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.slug_claims FOR SELECT TO tenantry_owner USING (true);

-- Answers to POST requests that carried an Idempotency-Key, so that a retry replays the
-- first answer instead of acting twice. Rows belong to a tenant (platform-level requests,
-- such as creating a tenant, use the nil uuid as their tenant). A row is found by key_hash
-- (tenant, caller and key); the key itself is never stored, and the answer is sealed under
-- a key derived from it (see http/idemseal.go).
CREATE TABLE tenantry.idempotency_keys (
    tenant_id    uuid        NOT NULL,
    request_hash bytea       NOT NULL,
    status       integer,               -- NULL while the first request is in flight
    created_at   timestamptz NOT NULL DEFAULT now(),
    key_hash     bytea       NOT NULL CHECK (length(key_hash) = 32),
    nonce        bytea,
    sealed       bytea,
    PRIMARY KEY (tenant_id, key_hash),
    CONSTRAINT idempotency_keys_answer_sealed CHECK ((status IS NULL) = (sealed IS NULL) AND (sealed IS NULL) = (nonce IS NULL))
);
COMMENT ON COLUMN tenantry.idempotency_keys.key_hash IS 'SHA-256 of tenant, caller and Idempotency-Key; the key itself is never stored';
COMMENT ON COLUMN tenantry.idempotency_keys.request_hash IS 'HMAC-SHA256 of method, path and body under a key derived from the Idempotency-Key';
COMMENT ON COLUMN tenantry.idempotency_keys.sealed IS 'AES-256-GCM of the answer''s content type and body under a key derived from the Idempotency-Key';
CREATE INDEX idempotency_keys_created_at_idx ON tenantry.idempotency_keys (created_at);
ALTER TABLE tenantry.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.idempotency_keys
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
-- Only expire_idempotency_keys (running as the owner) works across tenants.
CREATE POLICY owner_reads_all ON tenantry.idempotency_keys FOR SELECT TO tenantry_owner USING (true);
CREATE POLICY owner_expires ON tenantry.idempotency_keys FOR DELETE TO tenantry_owner USING (true);

-- Signed tenant heads (eventstore/audit/AUDIT.md): each tenant's head (seq, hash, time)
-- signed with the server's Ed25519 key, periodically and on every export, kept so an
-- auditor can ask for heads published earlier. Append-only for the runtime roles.
CREATE TABLE tenantry.signed_heads (
    tenant_id  uuid        NOT NULL,
    seq        bigint      NOT NULL CHECK (seq >= 0),
    hash       bytea       NOT NULL CHECK (octet_length(hash) = 32),
    signed_at  timestamptz NOT NULL,
    key_id     text        NOT NULL,
    signature  bytea       NOT NULL CHECK (octet_length(signature) = 64),
    PRIMARY KEY (tenant_id, signed_at, seq)
);
ALTER TABLE tenantry.signed_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.signed_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.signed_heads
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.signed_heads FOR SELECT TO tenantry_owner USING (true);

-- Scheduled jobs run once per period across worker replicas: a replica claims (job, period)
-- here before running it. A claim whose holder died (started long ago, never finished) can
-- be taken over. Not tenant data: no row-level security.
CREATE TABLE tenantry.job_runs (
    job         text        NOT NULL,
    period      timestamptz NOT NULL,
    holder      text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (job, period)
);

-- Runtime grants: DML only. Both roles append and read events under a tenant context, but
-- they write events, event_keys, tenant_heads and streams (and draw positions) only through
-- tenantry.append_events, a SECURITY DEFINER function that checks the tenant context: a
-- direct INSERT there could forge the tenant's chain or head, so they hold SELECT alone.
GRANT USAGE ON SCHEMA tenantry TO tenantry_app, tenantry_worker;
GRANT SELECT ON tenantry.events, tenantry.tenant_heads, tenantry.streams, tenantry.event_keys TO tenantry_app, tenantry_worker;
GRANT SELECT ON tenantry.settings TO tenantry_app, tenantry_worker;
GRANT SELECT ON tenantry.tenant_schemas TO tenantry_app, tenantry_worker;
GRANT SELECT, INSERT ON tenantry.signed_heads TO tenantry_app, tenantry_worker;
-- The API reads its own tenant's checkpoint and directory row (RLS); writing them, relay
-- cursors and job claims are the cross-tenant machinery's.
GRANT SELECT ON tenantry.projections, tenantry.tenants TO tenantry_app;
GRANT SELECT, INSERT, UPDATE ON tenantry.projections, tenantry.tenants, tenantry.cursors, tenantry.job_runs TO tenantry_worker;
-- slug_claims and idempotency_keys are the API's alone.
GRANT SELECT, INSERT, DELETE ON tenantry.slug_claims TO tenantry_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.idempotency_keys TO tenantry_app;
