-- +goose Up
-- The group committer's appends (tenantry.append_events_group) write many tenants' events in
-- one statement. Row-level security stays forced on the chain's tables; these policies admit
-- the owner's writes (only SECURITY DEFINER functions run as the owner at run time) to
-- exactly the tenants the group function locked and names in tenantry.append_tenants, for
-- that statement only. The runtime roles hold no INSERT or UPDATE on these tables at all, so
-- the setting gives them nothing.
CREATE POLICY owner_appends_group ON tenantry.events FOR INSERT TO tenantry_owner
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));
CREATE POLICY owner_appends_group ON tenantry.event_keys FOR INSERT TO tenantry_owner
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));
CREATE POLICY owner_appends_group ON tenantry.tenant_heads FOR INSERT TO tenantry_owner
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));
CREATE POLICY owner_moves_group ON tenantry.tenant_heads FOR UPDATE TO tenantry_owner
    USING (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')))
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));
CREATE POLICY owner_appends_group ON tenantry.streams FOR INSERT TO tenantry_owner
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));
CREATE POLICY owner_moves_group ON tenantry.streams FOR UPDATE TO tenantry_owner
    USING (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')))
    WITH CHECK (tenant_id = ANY (coalesce((SELECT string_to_array(nullif(current_setting('tenantry.append_tenants', true), ''), ',')::uuid[]), '{}')));

-- +goose Down
DROP POLICY owner_moves_group ON tenantry.streams;
DROP POLICY owner_appends_group ON tenantry.streams;
DROP POLICY owner_moves_group ON tenantry.tenant_heads;
DROP POLICY owner_appends_group ON tenantry.tenant_heads;
DROP POLICY owner_appends_group ON tenantry.event_keys;
DROP POLICY owner_appends_group ON tenantry.events;
