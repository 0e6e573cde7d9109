-- Signed outbound webhooks (issue 19): endpoints registered by a tenant's admin for the
-- tenant's events, or by the operator for every tenant's, and one delivery row per
-- (endpoint, event) driven from the event stream by the projector's "webhooks" projection.
--
-- The operator's deployment-wide endpoints belong to the nil tenant
-- (00000000-0000-0000-0000-000000000000), as the platform-level idempotency keys do, so one
-- row-level security policy serves both owners: the API reaches an endpoint, and the
-- deliveries to it, only under its owner's tenant context (the operator's routes use the
-- nil tenant). A delivery carries both the event's tenant (tenant_id) and the endpoint's
-- owner (owner_id); the API's policy keys on the owner.
--
-- The webhook machinery runs as tenantry_worker, which the API process never holds: the
-- projector enqueues a tenant's event for the operator's endpoints too, and the delivery
-- worker claims due deliveries across tenants, so that role reads every endpoint and
-- delivery (policies worker_*), like the cross-tenant machinery's SECURITY DEFINER functions
-- do. Signing secrets are never stored in plaintext: AES-256-GCM under the deployment's
-- TENANTRY_WEBHOOK_KEY, the endpoint id as additional data (domain/webhook).

-- +goose Up
CREATE TABLE tenantry.webhook_endpoints (
    endpoint_id          uuid        PRIMARY KEY,
    tenant_id            uuid        NOT NULL, -- the owner; the nil uuid: the operator's
    url                  text        NOT NULL CHECK (octet_length(url) BETWEEN 1 AND 2048),
    event_types          text[]      NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100),
    description          text        NOT NULL DEFAULT '' CHECK (octet_length(description) <= 500),
    status               text        NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason      text        CHECK (octet_length(disabled_reason) <= 500),
    failing_since        timestamptz,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    secret_sealed        bytea       NOT NULL,
    previous_sealed      bytea,
    previous_expires_at  timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_previous CHECK ((previous_sealed IS NULL) = (previous_expires_at IS NULL))
);
COMMENT ON COLUMN tenantry.webhook_endpoints.secret_sealed IS 'AES-256-GCM (nonce || ciphertext) of the signing secret under TENANTRY_WEBHOOK_KEY, endpoint id as additional data';
CREATE INDEX webhook_endpoints_tenant_idx ON tenantry.webhook_endpoints (tenant_id, created_at);
ALTER TABLE tenantry.webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.webhook_endpoints
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY worker_reads_all ON tenantry.webhook_endpoints FOR SELECT TO tenantry_worker USING (true);
CREATE POLICY worker_records_failures ON tenantry.webhook_endpoints FOR UPDATE TO tenantry_worker USING (true) WITH CHECK (true);
CREATE POLICY owner_reads_all ON tenantry.webhook_endpoints FOR SELECT TO tenantry_owner USING (true);

CREATE TABLE tenantry.webhook_deliveries (
    endpoint_id      uuid        NOT NULL REFERENCES tenantry.webhook_endpoints ON DELETE CASCADE,
    tenant_id        uuid        NOT NULL, -- the event's tenant
    seq              bigint      NOT NULL, -- the event's seq in its tenant's stream
    owner_id         uuid        NOT NULL, -- the endpoint's owner (nil uuid: the operator)
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    body             bytea       NOT NULL, -- the exact JSON sent, so a retry sends the same bytes
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_status      integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint_id, tenant_id, seq)
);
CREATE INDEX webhook_deliveries_pending_idx ON tenantry.webhook_deliveries (endpoint_id, tenant_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_owner_idx ON tenantry.webhook_deliveries (owner_id, endpoint_id, created_at);
ALTER TABLE tenantry.webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.webhook_deliveries
    USING (owner_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (owner_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY worker_delivers ON tenantry.webhook_deliveries TO tenantry_worker USING (true) WITH CHECK (true);
CREATE POLICY owner_reads_all ON tenantry.webhook_deliveries FOR SELECT TO tenantry_owner USING (true);

-- The API manages its tenant's endpoints and reads (and re-queues) their deliveries; the
-- worker enqueues, delivers and records failures.
GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.webhook_endpoints TO tenantry_app;
GRANT SELECT, UPDATE ON tenantry.webhook_endpoints TO tenantry_worker;
GRANT SELECT, UPDATE ON tenantry.webhook_deliveries TO tenantry_app;
GRANT SELECT, INSERT, UPDATE ON tenantry.webhook_deliveries TO tenantry_worker;
