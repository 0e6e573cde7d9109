-- Look up stored events by id for a retried append: each proposed id with where it landed
-- (NULL when not stored) and whether the stored event has the proposed content.
CREATE OR REPLACE FUNCTION tenantry.find_events(
    p_tenant uuid, p_stream text, p_ids uuid[], p_types text[], p_versions integer[], p_data text[]
) RETURNS TABLE (
    seq bigint, stream_version bigint, event_id uuid, "position" bigint,
    recorded_at timestamptz, hash bytea, same boolean
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.seq, e.stream_version, u.id, e.position, e.recorded_at, e.hash,
           coalesce(e.stream_id = p_stream AND e.event_type = u.typ AND e.schema_version = u.ver
                    AND e.data = u.d::jsonb, false)
      FROM unnest(p_ids, p_types, p_versions, p_data) AS u(id, typ, ver, d)
      LEFT JOIN tenantry.events e ON e.tenant_id = p_tenant AND e.event_id = u.id
$$;

REVOKE ALL ON FUNCTION tenantry.find_events(uuid,text,uuid[],text[],integer[],text[]) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.find_events(uuid,text,uuid[],text[],integer[],text[]) TO tenantry_app, tenantry_worker;
