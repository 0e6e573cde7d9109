-- The chain hash of one event from its precomputed parts (see event_hash_mid.sql).
-- tenant_bytes is uuid_send(tenant_id) and recorded_at_bytes the 8-byte microseconds, both
-- the same for every event of an append.
CREATE OR REPLACE FUNCTION tenantry.event_hash_link(prev_hash bytea, tenant_bytes bytea, seq bigint, mid bytea,
    stream_version bigint, tail bytea, recorded_at_bytes bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.sha256('\x74656e616e7472792e6576656e742e7631'::bytea  -- 'tenantry.event.v1'
        || prev_hash || tenant_bytes || pg_catalog.int8send(seq) || mid || pg_catalog.int8send(stream_version)
        || tail || recorded_at_bytes)
$$;

REVOKE ALL ON FUNCTION tenantry.event_hash_link(bytea,bytea,bigint,bytea,bigint,bytea,bytea) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.event_hash_link(bytea,bytea,bigint,bytea,bigint,bytea,bytea) TO tenantry_app, tenantry_worker;
