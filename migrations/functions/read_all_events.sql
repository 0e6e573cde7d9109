-- The gap-safe global cursor, for the relay and the tenant directory: every tenant's events
-- after (p_tx, p_position), in (tx_id, position) order, only from transactions below the
-- oldest one still running, so no later commit can land behind the cursor. SECURITY DEFINER
-- (owner, who may read all tenants) is the one sanctioned cross-tenant read path.
CREATE OR REPLACE FUNCTION tenantry.read_all_events(p_tx xid8, p_position bigint, p_limit integer)
RETURNS SETOF tenantry.events
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- S1: the transactions running now.
    snap    pg_snapshot := pg_current_snapshot();
    horizon xid8;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'read_all_events needs a fresh snapshot per statement: call it in READ COMMITTED'
            USING ERRCODE = '25001';
    END IF;
    -- The horizon is the oldest running transaction that may still write events. Event
    -- writers take a lock of class 7365710 before their first write (append_events refuses
    -- to run otherwise), so a transaction that has an id but holds no such lock in this
    -- database can never write events, and is passed over: projections, cursors, other
    -- databases on the server, CREATE DATABASE. A transaction is passed over only when the
    -- lock table shows its id held by such a non-writer; one whose id is not (yet) there
    -- counts, to be safe. A writer running at S1 and finished by the time the lock table
    -- is read has committed or aborted, so the next statement, with a snapshot taken after
    -- this one, sees all of it; a writer that takes its id after S1 gets one at or above
    -- S1's xmax, where the horizon stops anyway.
    WITH locks AS MATERIALIZED (
        SELECT l.locktype, l.virtualtransaction, l.transactionid, l.classid, l.objsubid, l.database
          FROM pg_locks l
         WHERE l.granted AND l.locktype IN ('transactionid', 'advisory')
    ),
    writers AS (
        SELECT DISTINCT a.virtualtransaction FROM locks a
         WHERE a.locktype = 'advisory' AND a.classid = 7365710 AND a.objsubid = 2
           AND a.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ),
    non_writers AS (
        SELECT t.transactionid::text::bigint AS xid32 FROM locks t
         WHERE t.locktype = 'transactionid' AND t.transactionid IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM writers w WHERE w.virtualtransaction = t.virtualtransaction)
    )
    SELECT min(x) INTO horizon
      FROM pg_snapshot_xip(snap) AS x
     WHERE (x::text::bigint % 4294967296) NOT IN (SELECT xid32 FROM non_writers);
    horizon := coalesce(horizon, pg_snapshot_xmax(snap));
    -- S2: a new snapshot, taken after the lock table was read.
    RETURN QUERY
    SELECT e.*
      FROM tenantry.events e
     WHERE (e.tx_id, e.position) > (p_tx, p_position)
       AND e.tx_id < horizon
     ORDER BY e.tx_id, e.position
     LIMIT least(greatest(p_limit, 1), 10000);
END
$$;

REVOKE ALL ON FUNCTION tenantry.read_all_events(xid8,bigint,integer) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.read_all_events(xid8,bigint,integer) TO tenantry_worker;
