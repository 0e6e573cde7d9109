-- The fields of an event's chain encoding from event_type to metadata, from their UTF-8
-- bytes (data and metadata as jsonb text); see event_hash_mid.sql for the three parts.
-- It takes bytes, not text, so that each byte string is named once per use of a parameter
-- that is cheap to repeat: PostgreSQL inlines this function and repeats each argument
-- wherever the body names it, so a text argument was converted (jsonb to text, text to
-- UTF-8) twice per field. An append's batch converts each document once and shares the
-- metadata's and the type's bytes between its events (append_events.sql).
DROP FUNCTION IF EXISTS tenantry.event_hash_tail(text, integer, text, text);
CREATE OR REPLACE FUNCTION tenantry.event_hash_tail(event_type_utf8 bytea, schema_version integer,
    data_utf8 bytea, metadata_utf8 bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.int4send(pg_catalog.octet_length(event_type_utf8)) || event_type_utf8
        || pg_catalog.int4send(schema_version)
        || pg_catalog.int4send(pg_catalog.octet_length(data_utf8)) || data_utf8
        || pg_catalog.int4send(pg_catalog.octet_length(metadata_utf8)) || metadata_utf8
$$;

REVOKE ALL ON FUNCTION tenantry.event_hash_tail(bytea,integer,bytea,bytea) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.event_hash_tail(bytea,integer,bytea,bytea) TO tenantry_app, tenantry_worker;
