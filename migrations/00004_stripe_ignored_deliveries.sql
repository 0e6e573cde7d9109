-- Stripe deliveries that concern no tenant: their object's customer is no tenant's linked
-- customer (or they name none). A delivery about a tenant is recorded in that tenant's
-- billing stream with its outcome and reason (billing.stripe_event_received); these have no
-- tenant stream, so they are recorded here, with the reason, once per Stripe event id (a
-- redelivery adds nothing). They hold no tenant's data: no row-level security.
--
-- The API (tenantry_app) receives the webhooks and may only add rows: it can neither read
-- back nor change what it recorded. The operator reads them as the owner.

-- +goose Up
CREATE TABLE tenantry.stripe_ignored_deliveries (
    stripe_event_id    text        PRIMARY KEY CHECK (octet_length(stripe_event_id) BETWEEN 1 AND 255),
    event_type         text        NOT NULL CHECK (octet_length(event_type) BETWEEN 1 AND 255),
    reason             text        NOT NULL CHECK (reason ~ '^[a-z_]{1,50}$'),
    stripe_customer_id text        NOT NULL CHECK (octet_length(stripe_customer_id) <= 255),
    created_at         timestamptz NOT NULL, -- when Stripe created the event
    received_at        timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE tenantry.stripe_ignored_deliveries IS
    'Stripe webhook deliveries that concern no tenant (ignored, with the reason); deliveries about a tenant are in its billing stream.';

GRANT INSERT ON tenantry.stripe_ignored_deliveries TO tenantry_app;
