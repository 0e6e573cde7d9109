-- Stripe webhooks name a customer, not a tenant: the one lookup the webhook handler may
-- make, a SECURITY DEFINER function like find_tenant that returns directory facts only.
CREATE OR REPLACE FUNCTION tenantry.find_tenant_by_customer(p_customer text)
RETURNS SETOF tenantry.tenants
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.* FROM tenantry.tenants t WHERE t.stripe_customer_id = p_customer
$$;

REVOKE ALL ON FUNCTION tenantry.find_tenant_by_customer(text) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.find_tenant_by_customer(text) TO tenantry_app, tenantry_worker;
