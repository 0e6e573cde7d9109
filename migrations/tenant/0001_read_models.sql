-- Read models of one tenant. Runs with search_path set to the tenant's schema, as
-- tenantry_owner, inside tenantry.migrate_tenant_schema. Every table carries tenant_id and
-- forced row-level security with the fail-closed policy (the function refuses otherwise).

CREATE TABLE profile (
    tenant_id      uuid        PRIMARY KEY,
    name           text        NOT NULL,
    slug           text        NOT NULL,
    plan           text        NOT NULL,
    status         text        NOT NULL,
    suspend_reason text,
    suspend_note   text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE members (
    tenant_id  uuid        NOT NULL,
    member_id  uuid        NOT NULL,
    email      text        NOT NULL,
    role       text        NOT NULL,
    joined_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, member_id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE invitations (
    tenant_id     uuid        NOT NULL,
    invitation_id uuid        NOT NULL,
    email         text        NOT NULL,
    role          text        NOT NULL,
    invited_by    uuid        NOT NULL,
    token_sha256  text        NOT NULL,
    expires_at    timestamptz NOT NULL,
    status        text        NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked')),
    PRIMARY KEY (tenant_id, invitation_id)
);

CREATE TABLE api_keys (
    tenant_id  uuid        NOT NULL,
    key_id     uuid        NOT NULL,
    prefix     text        NOT NULL,
    key_hash   bytea       NOT NULL,
    role       text        NOT NULL,
    member_id  uuid,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, key_id),
    UNIQUE (tenant_id, prefix)
);

CREATE TABLE usage_hourly (
    tenant_id uuid        NOT NULL,
    metric    text        NOT NULL,
    hour      timestamptz NOT NULL,
    quantity  bigint      NOT NULL,
    PRIMARY KEY (tenant_id, metric, hour)
);

CREATE TABLE usage_daily (
    tenant_id uuid   NOT NULL,
    metric    text   NOT NULL,
    day       date   NOT NULL,
    quantity  bigint NOT NULL,
    PRIMARY KEY (tenant_id, metric, day)
);

CREATE TABLE billing (
    tenant_id              uuid PRIMARY KEY,
    stripe_customer_id     text,
    stripe_subscription_id text,
    status                 text NOT NULL DEFAULT 'none',
    past_due_since         timestamptz,
    grace_ends_at          timestamptz
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['profile', 'members', 'invitations', 'api_keys', 'usage_hourly',
                             'usage_daily', 'billing'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
            WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;
