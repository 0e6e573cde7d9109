-- Where each relay (and any other global-cursor follower) has got to in the all-tenants
-- order, so a restart resumes instead of starting over. Not tenant data: no tenant_id.

-- +goose Up
CREATE TABLE tenantry.cursors (
    name       text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]{0,62}$'),
    tx_id      xid8        NOT NULL,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON tenantry.cursors TO tenantry_app;

-- +goose Down
DROP TABLE tenantry.cursors;
