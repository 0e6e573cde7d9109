package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The worker role's side of webhooks: the projector enqueues one delivery per matching
// endpoint in the tenant's projection transaction (exactly once with its checkpoint; the
// primary key makes a replay add nothing), and delivery workers claim due deliveries with a
// lease, so replicas never send one twice at once.

const enqueueWebhooksSQL = `INSERT INTO tenantry.webhook_deliveries (endpoint_id, tenant_id, seq, owner_id, event_id, event_type, body)
	SELECT e.endpoint_id, $1, $2, e.tenant_id, $3, $4, $5 FROM tenantry.webhook_endpoints e
	 WHERE e.tenant_id IN ($1, '00000000-0000-0000-0000-000000000000'::uuid) AND e.status = 'enabled'
	   AND e.created_at <= $6 AND ($4 = ANY (e.event_types) OR '*' = ANY (e.event_types))
	ON CONFLICT DO NOTHING`

// webhooksWantedSQL says whether tenant $1 or the operator has an enabled endpoint.
const webhooksWantedSQL = `SELECT EXISTS (SELECT 1 FROM tenantry.webhook_endpoints e
	 WHERE e.tenant_id IN ($1, '00000000-0000-0000-0000-000000000000'::uuid) AND e.status = 'enabled')`

// WebhooksWanted reports whether any enabled endpoint (the tenant's or the operator's) could
// want this transaction's events, read once per transaction: a tenant without one (the
// usual case) costs the webhooks projection one query per batch instead of a body and an
// INSERT per event. An endpoint committed while the batch runs is seen by the next batch;
// its created_at bounds what it receives as before (only events recorded after it).
func (t *ProjectionTx) WebhooksWanted(ctx context.Context) (bool, error) {
	if t.webhooks == nil {
		var wanted bool
		if err := t.tx.QueryRow(ctx, webhooksWantedSQL, t.tenant).Scan(&wanted); err != nil {
			return false, fmt.Errorf("read webhook endpoints of %s: %w", t.tenant, err)
		}
		t.webhooks = &wanted
	}
	return *t.webhooks, nil
}

// EnqueueWebhooks queues body (the delivery's JSON) for every enabled endpoint of the
// transaction's tenant and of the operator that wants ev's type and existed when ev was
// recorded; it reports how many deliveries were added.
func (t *ProjectionTx) EnqueueWebhooks(ctx context.Context, ev Event, body []byte) (int64, error) {
	tag, err := t.tx.Exec(ctx, enqueueWebhooksSQL, t.tenant, ev.Seq, ev.ID, ev.Type, body, ev.RecordedAt)
	if err != nil {
		return 0, fmt.Errorf("enqueue webhooks of event %d of %s: %w", ev.Seq, t.tenant, err)
	}
	return tag.RowsAffected(), nil
}

// WebhookJob is a claimed delivery: what to send where, signed with which secrets.
type WebhookJob struct {
	EndpointID        uuid.UUID
	TenantID          uuid.UUID
	Seq               int64
	Attempts          int // before this one
	FirstAttemptAt    *time.Time
	URL               string
	Body              []byte
	SecretSealed      []byte
	PreviousSealed    []byte // nil unless a rotation's overlap is running
	FailingSince      *time.Time
	ConsecutiveErrors int
}

// claimWebhooksSQL leases the oldest pending delivery of each (endpoint, tenant) pair that
// is due and not leased, $1 in all, so that no endpoint has more than $2 leased at once,
// counting the leases other workers hold. Only a pair's lowest pending seq is a candidate,
// so a failing delivery holds back the later ones of its pair and no other, and a leased
// delivery is always its pair's head (so counting leased heads counts every lease). Claims
// run one at a time across workers (ClaimWebhooks takes LockWebhookClaim first, and this
// statement's snapshot is taken after it), so each sees every earlier claim's leases.
// FOR UPDATE re-checks the lease on the row as committed, and SKIP LOCKED passes over a
// row whose attempt is being recorded. The heads are found by a skip scan of the pending
// index (per enabled endpoint, one probe per tenant), not by reading every pending row:
// an endpoint that is down for a day can hold millions of them (see make bench's
// webhook_claim_backlog: 400,000 pending rows of 1,000 tenants, against DISTINCT ON).
const claimWebhooksSQL = `WITH RECURSIVE heads AS (
	SELECT h.* FROM tenantry.webhook_endpoints e, LATERAL (
		SELECT d.endpoint_id, d.tenant_id, d.seq, d.next_attempt_at, d.lease_until FROM tenantry.webhook_deliveries d
		 WHERE d.status = 'pending' AND d.endpoint_id = e.endpoint_id
		 ORDER BY d.tenant_id, d.seq LIMIT 1) h
	 WHERE e.status = 'enabled'
	UNION ALL
	SELECT n.* FROM heads h, LATERAL (
		SELECT d.endpoint_id, d.tenant_id, d.seq, d.next_attempt_at, d.lease_until FROM tenantry.webhook_deliveries d
		 WHERE d.status = 'pending' AND d.endpoint_id = h.endpoint_id AND d.tenant_id > h.tenant_id
		 ORDER BY d.tenant_id, d.seq LIMIT 1) n
), leased AS (
	SELECT h.endpoint_id, count(*) AS n FROM heads h WHERE h.lease_until >= now() GROUP BY h.endpoint_id
), due AS (
	SELECT h.endpoint_id, h.tenant_id, h.seq,
	       coalesce(l.n, 0) + row_number() OVER (PARTITION BY h.endpoint_id ORDER BY h.next_attempt_at) AS n
	  FROM heads h LEFT JOIN leased l ON l.endpoint_id = h.endpoint_id
	 WHERE h.next_attempt_at <= now() AND (h.lease_until IS NULL OR h.lease_until < now())
), picked AS (
	SELECT d.endpoint_id, d.tenant_id, d.seq FROM tenantry.webhook_deliveries d
	  JOIN due ON (due.endpoint_id, due.tenant_id, due.seq) = (d.endpoint_id, d.tenant_id, d.seq)
	 WHERE due.n <= $2 AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < now())
	 LIMIT $1
	 FOR UPDATE OF d SKIP LOCKED
)
UPDATE tenantry.webhook_deliveries d SET lease_until = now() + make_interval(secs => $3)
  FROM picked, tenantry.webhook_endpoints e
 WHERE (d.endpoint_id, d.tenant_id, d.seq) = (picked.endpoint_id, picked.tenant_id, picked.seq)
   AND e.endpoint_id = d.endpoint_id
RETURNING ` + webhookJobColumns

// ClaimWebhooks leases up to limit due deliveries for lease, leaving no endpoint with more
// than perEndpoint leased at once across every worker of the deployment: no other worker
// claims them meanwhile.
func (s *Store) ClaimWebhooks(ctx context.Context, limit, perEndpoint int, lease time.Duration) ([]WebhookJob, error) {
	var jobs []WebhookJob
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, int32(LockWebhookClaim)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, claimWebhooksSQL, limit, perEndpoint, lease.Seconds())
		if err != nil {
			return err
		}
		jobs, err = pgx.CollectRows(rows, scanWebhookJob)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return jobs, nil
}

// webhookJobColumns are what a claim returns of a delivery and its endpoint (d, e).
const webhookJobColumns = `d.endpoint_id, d.tenant_id, d.seq, d.attempts, d.first_attempt_at, e.url, d.body, e.secret_sealed,
          CASE WHEN e.previous_expires_at > now() THEN e.previous_sealed END, e.failing_since, e.consecutive_failures`

func scanWebhookJob(r pgx.CollectableRow) (WebhookJob, error) {
	var j WebhookJob
	err := r.Scan(&j.EndpointID, &j.TenantID, &j.Seq, &j.Attempts, &j.FirstAttemptAt, &j.URL, &j.Body, &j.SecretSealed,
		&j.PreviousSealed, &j.FailingSince, &j.ConsecutiveErrors)
	return j, err
}

// WebhookOutcome is how one attempt went.
type WebhookOutcome struct {
	Delivered bool
	Status    int    // the response's status code, 0 when none came
	Error     string // why it failed (bounded, no secret)
	// Retry is the wait before the next attempt; GiveUp fails the delivery for good.
	Retry  time.Duration
	GiveUp bool
	// Disable disables the endpoint with this reason ("" leaves it enabled).
	Disable string
}

const (
	deliveredWebhookSQL = `UPDATE tenantry.webhook_deliveries SET status = 'delivered', attempts = attempts + 1,
		first_attempt_at = coalesce(first_attempt_at, now()), last_attempt_at = now(), last_status = $4,
		last_error = NULL, delivered_at = now(), lease_until = NULL
		WHERE endpoint_id = $1 AND tenant_id = $2 AND seq = $3 AND status = 'pending'`
	endpointHealthySQL = `UPDATE tenantry.webhook_endpoints SET failing_since = NULL, consecutive_failures = 0
		WHERE endpoint_id = $1 AND (failing_since IS NOT NULL OR consecutive_failures <> 0)`
	failedWebhookSQL = `UPDATE tenantry.webhook_deliveries SET attempts = attempts + 1,
		status = CASE WHEN $7 THEN 'failed' ELSE 'pending' END,
		first_attempt_at = coalesce(first_attempt_at, now()), last_attempt_at = now(), last_status = $4,
		last_error = $5, next_attempt_at = now() + make_interval(secs => $6), lease_until = NULL
		WHERE endpoint_id = $1 AND tenant_id = $2 AND seq = $3 AND status = 'pending'`
	endpointFailingSQL = `UPDATE tenantry.webhook_endpoints SET failing_since = coalesce(failing_since, now()),
		consecutive_failures = consecutive_failures + 1,
		status = CASE WHEN $2 <> '' THEN 'disabled' ELSE status END,
		disabled_reason = CASE WHEN $2 <> '' THEN $2 ELSE disabled_reason END,
		updated_at = CASE WHEN $2 <> '' THEN now() ELSE updated_at END
		WHERE endpoint_id = $1`
)

// claimNextWebhookSQL leases, for $3 seconds, the next pending delivery of endpoint $1 and
// tenant $2 if it is due, unleased and its endpoint enabled: in the transaction that
// recorded the pair's previous delivery as delivered, so the endpoint's slot passes from one
// to the other and its bound holds (see claimWebhooksSQL). FOR UPDATE re-checks the lease
// on the row as committed: a concurrent claim of the same row leases it once.
const claimNextWebhookSQL = `UPDATE tenantry.webhook_deliveries d SET lease_until = now() + make_interval(secs => $3)
  FROM tenantry.webhook_endpoints e
 WHERE e.endpoint_id = d.endpoint_id AND e.status = 'enabled'
   AND (d.endpoint_id, d.tenant_id, d.seq) = (SELECT n.endpoint_id, n.tenant_id, n.seq FROM tenantry.webhook_deliveries n
        WHERE n.endpoint_id = $1 AND n.tenant_id = $2 AND n.status = 'pending' ORDER BY n.seq LIMIT 1 FOR UPDATE SKIP LOCKED)
   AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())
RETURNING ` + webhookJobColumns

// CompleteWebhook records an attempt of a claimed delivery and its endpoint's health.
func (s *Store) CompleteWebhook(ctx context.Context, j WebhookJob, o WebhookOutcome) error {
	_, err := s.CompleteWebhookAndClaimNext(ctx, j, o, 0)
	return err
}

// CompleteWebhookAndClaimNext is CompleteWebhook that, when the attempt delivered and lease
// is positive, also leases the pair's next delivery if it is due, in the same transaction,
// and returns it (nil when there is none): a pair's deliveries then follow each other at the
// receiver's pace, without waiting for a claim round.
func (s *Store) CompleteWebhookAndClaimNext(ctx context.Context, j WebhookJob, o WebhookOutcome, lease time.Duration) (*WebhookJob, error) {
	var status *int
	if o.Status != 0 {
		status = &o.Status
	}
	var next *WebhookJob
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		next = nil
		if o.Delivered {
			b := &pgx.Batch{}
			b.Queue(deliveredWebhookSQL, j.EndpointID, j.TenantID, j.Seq, status)
			b.Queue(endpointHealthySQL, j.EndpointID)
			if lease > 0 {
				b.Queue(claimNextWebhookSQL, j.EndpointID, j.TenantID, lease.Seconds()).Query(func(rows pgx.Rows) error {
					jobs, err := pgx.CollectRows(rows, scanWebhookJob)
					if len(jobs) == 1 {
						next = &jobs[0]
					}
					return err
				})
			}
			return tx.SendBatch(ctx, b).Close()
		}
		if _, err := tx.Exec(ctx, failedWebhookSQL, j.EndpointID, j.TenantID, j.Seq, status, o.Error, o.Retry.Seconds(), o.GiveUp); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, endpointFailingSQL, j.EndpointID, o.Disable)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record webhook attempt (endpoint %s, tenant %s, seq %d): %w", j.EndpointID, j.TenantID, j.Seq, err)
	}
	return next, nil
}
