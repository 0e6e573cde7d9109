-- +goose Up
-- tenantry.append_events and append_events_group now keep tenantry.usage_totals (through
-- usage_totals_add.sql). append_events writes inside its tenant's context, which the table's
-- tenant_isolation policy admits; the group function has no tenant context, so, as for the
-- chain's tables (00003_group_append.sql), these policies admit the owner's writes to the
-- tenants the group locked and names in tenantry.append_tenants for its statement. The
-- runtime roles hold SELECT only, so the setting gives them nothing.
CREATE POLICY owner_appends_group ON tenantry.usage_totals FOR INSERT TO tenantry_owner
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));
CREATE POLICY owner_moves_group ON tenantry.usage_totals FOR UPDATE TO tenantry_owner
    USING (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')))
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));

-- The usage appended before the append functions kept the totals: each tenant's totals are
-- recomputed from its usage events (usage_totals_backfill.sql). Every append updates
-- tenant_heads, so the SHARE lock holds them all off until this migration commits (one
-- lock, not one per tenant). An older API still running after it appends usage without
-- totals: upgrade with the API stopped, or run the backfill again for those tenants.
LOCK TABLE tenantry.tenant_heads IN SHARE MODE;
SELECT tenantry.usage_totals_backfill(th.tenant_id, false) FROM tenantry.tenant_heads AS th ORDER BY th.tenant_id;

-- +goose Down
DROP POLICY owner_moves_group ON tenantry.usage_totals;
DROP POLICY owner_appends_group ON tenantry.usage_totals;
