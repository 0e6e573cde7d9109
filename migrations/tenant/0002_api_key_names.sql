-- API keys carry an optional label (api_key.created's name) and say why they were revoked
-- (api_key.revoked's reason: revoked, member_removed or role_changed). Like every tenant
-- migration it runs once per schema, tracked by version, inside
-- tenantry.migrate_tenant_schema's transaction, so a schema gets all of it or none. The
-- constant default makes adding the NOT NULL column a catalog-only change: no table rewrite.

ALTER TABLE api_keys
    ADD COLUMN name           text NOT NULL DEFAULT '',
    ADD COLUMN revoked_reason text;
