-- Signed tenant heads (eventstore/audit/AUDIT.md): the server signs each tenant's head
-- (seq, hash, time) with its Ed25519 key periodically and on every export, and keeps what it
-- signed here so an auditor can ask for heads published earlier. Append-only for the
-- runtime role, tenant-scoped by row-level security like the events.

-- +goose Up
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
GRANT SELECT, INSERT ON tenantry.signed_heads TO tenantry_app;

-- +goose Down
DROP TABLE tenantry.signed_heads;
