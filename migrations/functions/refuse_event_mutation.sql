-- Trigger function: tenantry.events is append-only (UPDATE, DELETE and TRUNCATE refused).
CREATE OR REPLACE FUNCTION tenantry.refuse_event_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tenantry.events is append-only: % is refused', TG_OP
        USING ERRCODE = 'TYM01',
              HINT = 'events are immutable; record a compensating event instead';
END
$$;

REVOKE ALL ON FUNCTION tenantry.refuse_event_mutation() FROM PUBLIC, tenantry_app, tenantry_worker;
