-- Usage totals per tenant, metric and quota period (issue 20: quotas and entitlements).
-- A quota period is a calendar month in UTC (billing.Period), and a record counts in the
-- period its occurred_at falls in. The totals are part of the write model, not a read
-- model: tenantry.append_events updates them in the same transaction as the usage events
-- that change them, under the tenant's append lock, so a hard quota is checked against
-- exactly what is committed (no lag, no overshoot) and the totals read with a tenant's head
-- seq in one snapshot are the fold of its events up to that seq.
--
-- total is the sum of the period's quantities (counters); max_quantity, last_quantity and
-- last_key the highest and the last reading (gauges; last by last_key, the 20-byte
-- eventstore.UsageLastKey: occurred_at ns, seq, record index). Only append_events writes
-- here (SECURITY DEFINER): the runtime roles read, under a tenant context (RLS).

-- +goose Up
CREATE TABLE tenantry.usage_totals (
    tenant_id     uuid    NOT NULL,
    metric        text    NOT NULL,
    period        date    NOT NULL CHECK (extract(day FROM period) = 1),
    total         numeric NOT NULL DEFAULT 0,
    max_quantity  numeric,
    last_quantity numeric,
    last_key      bytea,
    PRIMARY KEY (tenant_id, period, metric)
);
ALTER TABLE tenantry.usage_totals ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantry.usage_totals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenantry.usage_totals
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
CREATE POLICY owner_reads_all ON tenantry.usage_totals FOR SELECT TO tenantry_owner USING (true);
GRANT SELECT ON tenantry.usage_totals TO tenantry_app, tenantry_worker;

-- +goose Down
DROP TABLE tenantry.usage_totals;
