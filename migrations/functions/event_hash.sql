-- The chain hash of one event (CHAIN.md, encoding v1): same inputs, same hash. Declared STABLE,
-- not IMMUTABLE, because convert_to and extract(epoch FROM timestamptz) are STABLE: the planner
-- only inlines a SQL function whose body is no more volatile than its declaration, and an
-- IMMUTABLE declaration here made every call go through fmgr_sql, which parses and plans the
-- body again for each statement (once per append: the largest single cost of an append).
-- Defined from the three parts (event_hash_mid, event_hash_tail, event_hash_link), so the
-- encoding is written once.
CREATE OR REPLACE FUNCTION tenantry.event_hash(
    prev_hash bytea, tenant_id uuid, seq bigint, event_id uuid, stream_id text,
    stream_version bigint, event_type text, schema_version integer, data jsonb,
    metadata jsonb, recorded_at timestamptz
) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT tenantry.event_hash_link(prev_hash, pg_catalog.uuid_send(tenant_id), seq,
        tenantry.event_hash_mid(event_id, stream_id), stream_version,
        tenantry.event_hash_tail(pg_catalog.convert_to(event_type, 'UTF8'), schema_version,
            pg_catalog.convert_to(data::text, 'UTF8'), pg_catalog.convert_to(metadata::text, 'UTF8')),
        pg_catalog.int8send((extract(epoch FROM recorded_at) * 1000000)::bigint))
$$;

REVOKE ALL ON FUNCTION tenantry.event_hash(bytea,uuid,bigint,uuid,text,bigint,text,integer,jsonb,jsonb,timestamp with time zone) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.event_hash(bytea,uuid,bigint,uuid,text,bigint,text,integer,jsonb,jsonb,timestamp with time zone) TO tenantry_app, tenantry_worker;
