-- Trigger function: tenantry.event_keys is append-only, like the events.
CREATE OR REPLACE FUNCTION tenantry.refuse_key_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tenantry.event_keys is append-only: % is refused', TG_OP
        USING ERRCODE = 'TYM01';
END
$$;

REVOKE ALL ON FUNCTION tenantry.refuse_key_mutation() FROM PUBLIC, tenantry_app, tenantry_worker;
