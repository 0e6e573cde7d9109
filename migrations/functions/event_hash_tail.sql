-- The fields of an event's chain encoding from event_type to metadata (data and metadata
-- as jsonb text); see event_hash_mid.sql for the three parts.
CREATE OR REPLACE FUNCTION tenantry.event_hash_tail(event_type text, schema_version integer, data_text text, metadata_text text) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(event_type, 'UTF8'))) || pg_catalog.convert_to(event_type, 'UTF8')
        || pg_catalog.int4send(schema_version)
        || pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(data_text, 'UTF8'))) || pg_catalog.convert_to(data_text, 'UTF8')
        || pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(metadata_text, 'UTF8'))) || pg_catalog.convert_to(metadata_text, 'UTF8')
$$;

REVOKE ALL ON FUNCTION tenantry.event_hash_tail(text,integer,text,text) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.event_hash_tail(text,integer,text,text) TO tenantry_app, tenantry_worker;
