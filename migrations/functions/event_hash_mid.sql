-- The chain hash in three parts, so that an append can encode everything that does not
-- depend on an event's place in the chain before it takes the tenant's lock. The canonical
-- encoding (CHAIN.md) is, field by field:
--
--   tag | prev_hash | tenant_id | seq | event_id, L(stream_id) | stream_version |
--   L(event_type), schema_version, L(data), L(metadata) | recorded_at
--
-- event_hash_mid encodes event_id and L(stream_id); event_hash_tail the fields from
-- event_type to metadata (data and metadata as jsonb text); event_hash_link hashes the
-- whole. tenantry.event_hash is redefined from them, so the encoding is written once.
-- Like event_hash they are STABLE SQL functions without SET clauses, so they are inlined.
CREATE OR REPLACE FUNCTION tenantry.event_hash_mid(event_id uuid, stream_id text) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.uuid_send(event_id)
        || pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(stream_id, 'UTF8'))) || pg_catalog.convert_to(stream_id, 'UTF8')
$$;

REVOKE ALL ON FUNCTION tenantry.event_hash_mid(uuid,text) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.event_hash_mid(uuid,text) TO tenantry_app, tenantry_worker;
