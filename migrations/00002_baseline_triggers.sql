-- What the baseline needs its functions for: the triggers that make tenantry.events and
-- tenantry.event_keys append-only (refuse_event_mutation.sql, refuse_key_mutation.sql in
-- migrations/functions/, applied by migrate after 00001 and before this migration).
-- Statement triggers too: under RLS an UPDATE may match no visible row, and it must still
-- fail loudly rather than quietly change nothing. Row triggers on a partitioned table are
-- cloned onto its partitions; statement triggers are not, so each partition gets its own.

-- +goose Up
CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON tenantry.events
    FOR EACH ROW EXECUTE FUNCTION tenantry.refuse_event_mutation();
CREATE TRIGGER events_refuse_statement
    BEFORE UPDATE OR DELETE OR TRUNCATE ON tenantry.events
    FOR EACH STATEMENT EXECUTE FUNCTION tenantry.refuse_event_mutation();
CREATE TRIGGER event_keys_refuse_update_delete
    BEFORE UPDATE OR DELETE ON tenantry.event_keys
    FOR EACH ROW EXECUTE FUNCTION tenantry.refuse_key_mutation();
CREATE TRIGGER event_keys_refuse_statement
    BEFORE UPDATE OR DELETE OR TRUNCATE ON tenantry.event_keys
    FOR EACH STATEMENT EXECUTE FUNCTION tenantry.refuse_key_mutation();

-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname::text AS part, p.relname::text AS parent
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
              WHERE i.inhparent IN ('tenantry.events'::regclass, 'tenantry.event_keys'::regclass)
              ORDER BY c.relname LOOP
        IF r.parent = 'events' THEN
            EXECUTE format('CREATE TRIGGER events_refuse_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON tenantry.%I FOR EACH STATEMENT EXECUTE FUNCTION tenantry.refuse_event_mutation()', r.part);
        ELSE
            EXECUTE format('CREATE TRIGGER event_keys_refuse_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON tenantry.%I FOR EACH STATEMENT EXECUTE FUNCTION tenantry.refuse_key_mutation()', r.part);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd
