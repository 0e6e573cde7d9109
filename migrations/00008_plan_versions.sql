-- The plan catalog (issue 20): a tenant is on a plan version, billed monthly or yearly,
-- perhaps in trial. The directory shows them (existing rows: version 1, monthly, as every
-- tenant was before the catalog). The catalog itself is events in the deployment's own
-- partition (domain/plans.Partition), folded in memory by every process: no table.

-- +goose Up
ALTER TABLE tenantry.tenants
    ADD COLUMN plan_version     integer     NOT NULL DEFAULT 1 CHECK (plan_version >= 1),
    ADD COLUMN billing_interval text        NOT NULL DEFAULT 'monthly' CHECK (billing_interval IN ('monthly', 'yearly')),
    ADD COLUMN trial_ends_at    timestamptz;
CREATE INDEX tenants_plan ON tenantry.tenants (plan, plan_version);

-- +goose Down
DROP INDEX tenantry.tenants_plan;
ALTER TABLE tenantry.tenants DROP COLUMN plan_version, DROP COLUMN billing_interval, DROP COLUMN trial_ends_at;
