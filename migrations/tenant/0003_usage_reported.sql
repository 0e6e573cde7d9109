-- What Stripe was told per metric and usage window: the projection of usage.reported, read
-- next to usage_hourly to reconcile recorded with reported usage (GET /v1/billing,
-- tenantry billing reconcile). Same fail-closed row-level security as every read model.

CREATE TABLE usage_reported (
    tenant_id uuid        NOT NULL,
    metric    text        NOT NULL,
    hour      timestamptz NOT NULL,
    quantity  bigint      NOT NULL,
    revision  integer     NOT NULL,
    PRIMARY KEY (tenant_id, metric, hour)
);

ALTER TABLE usage_reported ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_reported
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
