-- The relay calls read_all_events many times a second. As a SECURITY DEFINER SQL function
-- it was planned afresh on every call (a merge over every events partition: ~4 ms of
-- planning per call, several times the execution). As PL/pgSQL its one statement keeps a
-- cached generic plan; the result is the same.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.read_all_events(p_tx xid8, p_position bigint, p_limit integer)
RETURNS SETOF tenantry.events
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    SELECT e.*
      FROM tenantry.events e
     WHERE (e.tx_id, e.position) > (p_tx, p_position)
       AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx_id, e.position
     LIMIT least(greatest(p_limit, 1), 10000);
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.read_all_events(p_tx xid8, p_position bigint, p_limit integer)
RETURNS SETOF tenantry.events
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.*
      FROM tenantry.events e
     WHERE (e.tx_id, e.position) > (p_tx, p_position)
       AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx_id, e.position
     LIMIT least(greatest(p_limit, 1), 10000)
$$;
-- +goose StatementEnd
