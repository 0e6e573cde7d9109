-- Independent projections per tenant. The read models were one projection with one
-- checkpoint per tenant, so one event that the usage sums could not apply stopped
-- everything, API keys and tenant status included. Each tenant now has one checkpoint row
-- per projection: 'auth' (profile with status and plan, members, invitations, API keys, the
-- billing state: everything authentication and authorisation read) and 'usage' (hourly and
-- daily usage, reported usage). Each applies the tenant's events in order, in its own
-- transaction with its own checkpoint, and stops on its own: failed_seq and failed_error
-- name the event it could not apply.
--
-- Existing rows become the 'auth' checkpoint and are copied as the 'usage' one: the read
-- models were projected together up to that seq. A recorded failure stays only with the
-- projection that owns the failed event.

-- +goose Up
ALTER TABLE tenantry.projections ADD COLUMN projection text NOT NULL DEFAULT 'auth'
    CHECK (projection IN ('auth', 'usage'));
ALTER TABLE tenantry.projections DROP CONSTRAINT projections_pkey;
ALTER TABLE tenantry.projections ADD PRIMARY KEY (tenant_id, projection);
ALTER TABLE tenantry.projections ALTER COLUMN projection DROP DEFAULT;
-- The copy is a migration's cross-tenant write: row-level security stays forced for
-- every other statement.
ALTER TABLE tenantry.projections NO FORCE ROW LEVEL SECURITY;
INSERT INTO tenantry.projections (tenant_id, projection, seq, failed_seq, failed_error, failed_at, updated_at)
SELECT tenant_id, 'usage', seq, failed_seq, failed_error, failed_at, updated_at
  FROM tenantry.projections WHERE projection = 'auth';
-- A failure recorded before the split belongs to the projection that applies the failed
-- event's type; the other one passes over that event and goes on. (A failure on no event,
-- such as a missing one, stays on both.)
UPDATE tenantry.projections p SET failed_seq = NULL, failed_error = NULL, failed_at = NULL
  FROM tenantry.events e
 WHERE p.failed_seq IS NOT NULL AND e.tenant_id = p.tenant_id AND e.seq = p.failed_seq
   AND (e.event_type IN ('usage.recorded', 'usage.batch_recorded', 'usage.reported')) <> (p.projection = 'usage');
ALTER TABLE tenantry.projections FORCE ROW LEVEL SECURITY;

-- Tenants with a projection behind their stream and not stopped; projected_seq is the
-- least such projection's seq (a projection with no row yet counts as 0).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.projection_backlog(p_limit integer)
RETURNS TABLE (tenant_id uuid, head_seq bigint, projected_seq bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h.tenant_id, h.seq,
           least(CASE WHEN a.failed_seq IS NULL THEN coalesce(a.seq, 0) END,
                 CASE WHEN u.failed_seq IS NULL THEN coalesce(u.seq, 0) END)
      FROM tenantry.tenant_heads h
      LEFT JOIN tenantry.projections a ON a.tenant_id = h.tenant_id AND a.projection = 'auth'
      LEFT JOIN tenantry.projections u ON u.tenant_id = h.tenant_id AND u.projection = 'usage'
     WHERE (a.failed_seq IS NULL AND h.seq > coalesce(a.seq, 0))
        OR (u.failed_seq IS NULL AND h.seq > coalesce(u.seq, 0))
     ORDER BY h.tenant_id
     LIMIT least(greatest(p_limit, 1), 100000)
$$;
-- +goose StatementEnd

-- Stopped projections, for operators: one row per tenant and projection, the projection
-- named in the last column (callers that select the first five columns are unchanged).
DROP FUNCTION tenantry.projection_failures();
-- +goose StatementBegin
CREATE FUNCTION tenantry.projection_failures()
RETURNS TABLE (tenant_id uuid, projected_seq bigint, failed_seq bigint, failed_error text, failed_at timestamptz, projection text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.tenant_id, p.seq, p.failed_seq, p.failed_error, p.failed_at, p.projection
      FROM tenantry.projections p WHERE p.failed_seq IS NOT NULL ORDER BY p.failed_at, p.projection
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION tenantry.projection_failures() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.projection_failures() TO tenantry_app;

-- +goose Down
DROP FUNCTION tenantry.projection_failures();
-- +goose StatementBegin
CREATE FUNCTION tenantry.projection_failures()
RETURNS TABLE (tenant_id uuid, projected_seq bigint, failed_seq bigint, failed_error text, failed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.tenant_id, p.seq, p.failed_seq, p.failed_error, p.failed_at
      FROM tenantry.projections p WHERE p.failed_seq IS NOT NULL ORDER BY p.failed_at
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION tenantry.projection_failures() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry.projection_failures() TO tenantry_app;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantry.projection_backlog(p_limit integer)
RETURNS TABLE (tenant_id uuid, head_seq bigint, projected_seq bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h.tenant_id, h.seq, coalesce(p.seq, 0)
      FROM tenantry.tenant_heads h
      LEFT JOIN tenantry.projections p ON p.tenant_id = h.tenant_id
     WHERE h.seq > coalesce(p.seq, 0) AND p.failed_seq IS NULL
     ORDER BY h.tenant_id
     LIMIT least(greatest(p_limit, 1), 100000)
$$;
-- +goose StatementEnd
ALTER TABLE tenantry.projections NO FORCE ROW LEVEL SECURITY;
DELETE FROM tenantry.projections WHERE projection = 'usage';
ALTER TABLE tenantry.projections FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantry.projections DROP CONSTRAINT projections_pkey;
ALTER TABLE tenantry.projections ADD PRIMARY KEY (tenant_id);
ALTER TABLE tenantry.projections DROP COLUMN projection;
