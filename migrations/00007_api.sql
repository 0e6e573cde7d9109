-- What the HTTP API keeps besides events.
--
-- Slug claims: a tenant's slug is claimed, under a unique constraint, before its
-- tenant.created event is appended, so two sign-ups racing for one slug cannot both win
-- (the directory is projected later and could only notice afterwards).
--
-- Responses to POST requests that carried an Idempotency-Key, so that a retry replays the
-- first answer instead of acting twice. Rows belong to a tenant (platform-level requests,
-- such as creating a tenant, use the nil uuid as their tenant) and to the caller that sent
-- them, and are protected by row-level security like every other tenant table.

-- +goose Up
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
GRANT SELECT, INSERT, DELETE ON tenantry.slug_claims TO tenantry_app;

CREATE TABLE tenantry.idempotency_keys (
    tenant_id    uuid        NOT NULL,
    principal    text        NOT NULL,  -- the API key id, "operator" or "anonymous"
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,  -- SHA-256 of method, route and body
    status       integer,               -- NULL while the first request is in flight
    content_type text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, principal, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON tenantry.idempotency_keys (created_at);
ALTER TABLE tenantry.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.idempotency_keys
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
-- Only expire_idempotency_keys (below, running as the owner) works across tenants.
CREATE POLICY owner_reads_all ON tenantry.idempotency_keys FOR SELECT TO tenantry_owner USING (true);
CREATE POLICY owner_expires ON tenantry.idempotency_keys FOR DELETE TO tenantry_owner USING (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.idempotency_keys TO tenantry_app;

-- Forget remembered responses older than p_age, across tenants (they are replayed for 24
-- hours by default); returns how many were removed.
-- +goose StatementBegin
CREATE FUNCTION tenantry.expire_idempotency_keys(p_age interval)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM tenantry.idempotency_keys WHERE created_at < now() - greatest(p_age, interval '1 minute')
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION tenantry.expire_idempotency_keys(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.expire_idempotency_keys(interval) TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.expire_idempotency_keys(interval);
DROP TABLE tenantry.idempotency_keys;
DROP TABLE tenantry.slug_claims;
