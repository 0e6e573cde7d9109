-- Billing: Stripe webhooks name a customer, not a tenant. The tenant directory already
-- carries each tenant's stripe_customer_id (filled from billing.customer_linked); this adds
-- the index and the one lookup the webhook handler may make, as a SECURITY DEFINER function
-- like find_tenant, so the runtime role still cannot list the directory.

-- +goose Up
CREATE INDEX tenants_stripe_customer ON tenantry.tenants (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION tenantry.find_tenant_by_customer(p_customer text)
RETURNS SETOF tenantry.tenants
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.* FROM tenantry.tenants t WHERE t.stripe_customer_id = p_customer
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION tenantry.find_tenant_by_customer(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.find_tenant_by_customer(text) TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.find_tenant_by_customer(text);
DROP INDEX tenantry.tenants_stripe_customer;
