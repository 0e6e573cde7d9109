package webhooks_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// distinctOnClaimSQL is the claim as first written: each (endpoint, tenant) pair's head found
// by DISTINCT ON over every pending row. It is webhook_claim_backlog's baseline only.
const distinctOnClaimSQL = `WITH heads AS (
	SELECT DISTINCT ON (d.endpoint_id, d.tenant_id) d.endpoint_id, d.tenant_id, d.seq, d.next_attempt_at, d.lease_until
	  FROM tenantry.webhook_deliveries d
	 WHERE d.status = 'pending'
	 ORDER BY d.endpoint_id, d.tenant_id, d.seq
), leased AS (
	SELECT h.endpoint_id, count(*) AS n FROM heads h WHERE h.lease_until >= now() GROUP BY h.endpoint_id
), due AS (
	SELECT h.endpoint_id, h.tenant_id, h.seq,
	       coalesce(l.n, 0) + row_number() OVER (PARTITION BY h.endpoint_id ORDER BY h.next_attempt_at) AS n
	  FROM heads h JOIN tenantry.webhook_endpoints e ON e.endpoint_id = h.endpoint_id AND e.status = 'enabled'
	  LEFT JOIN leased l ON l.endpoint_id = h.endpoint_id
	 WHERE h.next_attempt_at <= now() AND (h.lease_until IS NULL OR h.lease_until < now())
), picked AS (
	SELECT d.endpoint_id, d.tenant_id, d.seq FROM tenantry.webhook_deliveries d
	  JOIN due ON (due.endpoint_id, due.tenant_id, due.seq) = (d.endpoint_id, d.tenant_id, d.seq)
	 WHERE due.n <= $2 AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < now())
	 LIMIT $1
	 FOR UPDATE OF d SKIP LOCKED
)
UPDATE tenantry.webhook_deliveries d SET lease_until = now() + make_interval(secs => $3)
  FROM picked WHERE (d.endpoint_id, d.tenant_id, d.seq) = (picked.endpoint_id, picked.tenant_id, picked.seq)`

// backlogSQL queues 400,000 deliveries for a dead endpoint (1,000 tenants × 400, each
// tenant's head retrying in an hour) and 2 for each of 200 tenants of 3 healthy endpoints.
const backlogSQL = `
INSERT INTO tenantry.webhook_endpoints (endpoint_id, tenant_id, url, event_types, secret_sealed)
SELECT ('00000000-0000-0000-0000-0000000b1ac' || i)::uuid, '00000000-0000-0000-0000-000000000000', 'https://x.example/' || i, '{*}', '\x00'
  FROM generate_series(1, 4) i;
INSERT INTO tenantry.webhook_deliveries (endpoint_id, tenant_id, seq, owner_id, event_id, event_type, body, next_attempt_at)
SELECT '00000000-0000-0000-0000-0000000b1ac1', md5('t' || t)::uuid, s, '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'x', '\x00',
       CASE WHEN s = 1 THEN now() + interval '1 hour' ELSE now() END
  FROM generate_series(1, 1000) t, generate_series(1, 400) s;
INSERT INTO tenantry.webhook_deliveries (endpoint_id, tenant_id, seq, owner_id, event_id, event_type, body)
SELECT ('00000000-0000-0000-0000-0000000b1ac' || e)::uuid, md5('u' || t)::uuid, s, '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'x', '\x00'
  FROM generate_series(2, 4) e, generate_series(1, 200) t, generate_series(1, 2) s;
ANALYZE tenantry.webhook_deliveries`

// BenchmarkWebhookClaims prints webhook_claim_backlog: milliseconds per claim
// (ClaimWebhooks: 100 at most, 4 per endpoint) over that backlog, next to the same claim
// finding the pairs' heads by DISTINCT ON over every pending row (distinct_on_heads). Both
// claim the same 12 deliveries, which are released after each; 5 alternating rounds, medians.
func BenchmarkWebhookClaims(b *testing.B) {
	if !pgtest.BenchSelected("webhook_claim_backlog") {
		b.Skip("webhook_claim_backlog not selected")
	}
	ctx := context.Background()
	f := newFixture(b)
	super := pgtest.Pool(b, testDB.SuperURL, 2)
	_, err := super.Exec(ctx, backlogSQL)
	require.NoError(b, err)
	b.Cleanup(func() {
		_, _ = super.Exec(ctx, `DELETE FROM tenantry.webhook_endpoints WHERE endpoint_id::text LIKE '00000000-0000-0000-0000-0000000b1ac%'`)
	})
	release := func() {
		_, err := super.Exec(ctx, `UPDATE tenantry.webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL`)
		require.NoError(b, err)
	}
	var skip, distinct []float64
	for range 5 {
		start := time.Now()
		jobs, err := f.worker.ClaimWebhooks(ctx, 100, 4, time.Minute)
		require.NoError(b, err)
		skip = append(skip, float64(time.Since(start).Microseconds())/1000)
		require.Len(b, jobs, 12)
		release()

		start = time.Now()
		var n int64
		err = pgx.BeginFunc(ctx, super, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, distinctOnClaimSQL, 100, 4, 60.0)
			n = tag.RowsAffected()
			return err
		})
		require.NoError(b, err)
		distinct = append(distinct, float64(time.Since(start).Microseconds())/1000)
		require.EqualValues(b, 12, n)
		release()
	}
	pgtest.BenchLine("webhook_claim_backlog", pgtest.Median(skip), "ms", "distinct_on_heads", pgtest.Median(distinct))
}
