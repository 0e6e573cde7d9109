package eventstore

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The projector's statements: its checkpoints (tenantry.projections, one row per tenant and
// projection), its per-projection advisory locks, and the writes it batches. The projector
// (package projections) decides what to apply; this file is how it reaches the database.

// Projection names: each has its own checkpoint row per tenant in tenantry.projections.
const (
	// ProjectionAuth is everything authentication and authorisation read: the profile (status
	// and plan), members, invitations, API keys, and the billing state.
	ProjectionAuth = "auth"
	// ProjectionUsage is the usage sums per hour and day and the usage reported to Stripe.
	ProjectionUsage = "usage"
)

// Projections lists the projections, in the order the projector runs them for a tenant:
// usage first, because its batches carry the auth checkpoint over usage events, which
// spares the auth projection a transaction per usage batch.
var Projections = [...]string{ProjectionUsage, ProjectionAuth}

// projectionNames is names, or Tenantry's own projections when there are none.
func projectionNames(names []string) []string {
	if len(names) == 0 {
		return Projections[:]
	}
	return names
}

// Checkpoint is one projection's row for a tenant: the seq it includes, and whether it is
// stopped on an event it cannot apply.
type Checkpoint struct {
	Seq    int64
	Failed bool
}

// projectionLockKeySQL is the advisory lock key of projection $2 of tenant $1.
const projectionLockKeySQL = `hashtextextended('projection:' || $2 || ':' || $1, 0)`

// lockProjectionSQL sets the tenant context and search_path ($1), lets the transaction commit
// without waiting for its WAL flush, and takes projection $2's lock, in one statement.
// Asynchronous commit is safe: the read models and their checkpoint commit together, so a
// crash can only lose whole recent batches, which are then projected again from the events.
const lockProjectionSQL = TenantContextSQL + `, set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(` + projectionLockKeySQL + `)`

// lockProjectionGroupSQL is lockProjectionSQL for the many-tenant fast path: the tenant
// context only (the search_path is set once its writes are known), in a transaction whose
// asynchronous commit asyncCommitSQL set.
const lockProjectionGroupSQL = tenantOnlySQL + `, pg_advisory_xact_lock(` + projectionLockKeySQL + `)`

// tryLockProjectionSQL tries projection $2's lock of tenant $1 without waiting.
const tryLockProjectionSQL = `SELECT pg_try_advisory_xact_lock(` + projectionLockKeySQL + `)`

// asyncCommitSQL lets a projection transaction commit without waiting for its WAL flush
// (see lockProjectionSQL).
const asyncCommitSQL = `SELECT set_config('synchronous_commit', 'off', true)`

// tenantSearchPathSQL puts tenant $1's schema first on the search_path (its tenant context
// is set by TenantContextSQL or tenantOnlySQL).
const tenantSearchPathSQL = `SELECT set_config('search_path', tenantry.tenant_schema_name($1::uuid) || ', pg_catalog', true)`

// checkpointsSQL reads every checkpoint of tenant $1.
const checkpointsSQL = `SELECT projection, seq, failed_seq IS NOT NULL FROM tenantry.projections WHERE tenant_id = $1`

// nextEventsSQL reads a tenant's ($1) next events after projection $3's checkpoint, at most $2.
const nextEventsSQL = `SELECT ` + eventColumns + ` FROM tenantry.events
WHERE tenant_id = $1 AND seq > coalesce((SELECT seq FROM tenantry.projections WHERE tenant_id = $1 AND projection = $3), 0)
ORDER BY seq LIMIT $2`

// saveCheckpointSQL moves a projection's checkpoint ($1 tenant, $2 projection, $3 seq).
const saveCheckpointSQL = `INSERT INTO tenantry.projections AS p (tenant_id, projection, seq) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, projection) DO UPDATE SET seq = excluded.seq, updated_at = now()`

// recordFailureSQL stops a projection ($2) of a tenant ($1) at checkpoint $3 on the event
// $4, unless it is stopped already.
const recordFailureSQL = `INSERT INTO tenantry.projections AS p (tenant_id, projection, seq, failed_seq, failed_error, failed_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (tenant_id, projection) DO UPDATE SET seq = excluded.seq, failed_seq = excluded.failed_seq,
	failed_error = excluded.failed_error, failed_at = now(), updated_at = now()
WHERE p.failed_seq IS NULL`

// provisionSQL creates a tenant's schema from the tenant migrations.
const provisionSQL = `SELECT tenantry.migrate_tenant_schema($1)`

// backlogSQL lists tenants whose stream is ahead of one of the projections $2 that is not
// stopped.
const backlogSQL = `SELECT tenant_id FROM tenantry.projection_backlog($1, $2::text[])`

// failuresSQL lists the stopped projections of every tenant.
const failuresSQL = `SELECT tenant_id, projection, projected_seq, failed_seq, failed_error, failed_at FROM tenantry.projection_failures()`

// ProjectionTx is one projector transaction of one tenant. Reads and per-event writes run at
// once; usage sums and checkpoints are queued and sent together by Flush, in one round trip.
// The checkpoints it moves are published to this process's waiters (see WaitFor) once the
// transaction commits.
type ProjectionTx struct {
	tx     pgx.Tx
	tenant uuid.UUID
	batch  pgx.Batch
	moved  []movedCheckpoint
	// webhooks is whether the tenant or the operator has an enabled webhook endpoint, read
	// once per transaction (WebhooksWanted).
	webhooks *bool
}

// movedCheckpoint is a checkpoint a transaction moved, published to waiters on commit.
type movedCheckpoint struct {
	tenant     uuid.UUID
	projection string
	seq        int64
	failed     bool
}

// Tenant is the tenant whose events the transaction projects.
func (t *ProjectionTx) Tenant() uuid.UUID { return t.tenant }

// InProjection runs fn in one transaction for projecting the tenant's events: fn sets its
// context with Lock (or InShadow does). The transaction takes no id until its first write.
func (s *Store) InProjection(ctx context.Context, tenant uuid.UUID, fn func(*ProjectionTx) error) error {
	var moved []movedCheckpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t := &ProjectionTx{tx: tx, tenant: tenant}
		if err := fn(t); err != nil {
			return err
		}
		moved = t.moved
		return nil
	})
	if err == nil {
		hub.publishAll(moved)
	}
	return err
}

// Lock sets the tenant context and search_path, takes the lock of projection name of the
// tenant (advisory, transaction-scoped: it assigns no transaction id, which would hold back
// the relay's gap-safe horizon while the batch reads) and reads the checkpoints, in one
// round trip: own is projection name's, other projection also's. When also is set, its
// lock is tried too, without waiting (alsoLocked).
func (t *ProjectionTx) Lock(ctx context.Context, name, also string) (own, other Checkpoint, alsoLocked bool, err error) {
	b := &pgx.Batch{}
	b.Queue(lockProjectionSQL, t.tenant.String(), name)
	if also != "" {
		b.Queue(tryLockProjectionSQL, t.tenant.String(), also).QueryRow(func(r pgx.Row) error {
			return r.Scan(&alsoLocked)
		})
	}
	b.Queue(checkpointsSQL, t.tenant).Query(func(rows pgx.Rows) error {
		return scanCheckpoints(rows, name, also, &own, &other)
	})
	err = t.tx.SendBatch(ctx, b).Close()
	return own, other, alsoLocked, err
}

// scanCheckpoints reads (projection, seq, failed) rows into own (projection name) and other
// (projection also).
func scanCheckpoints(rows pgx.Rows, name, also string, own, other *Checkpoint) error {
	return eachCheckpoint(rows, func(proj string, c Checkpoint) {
		if proj == name {
			*own = c
		}
		if proj == also {
			*other = c
		}
	})
}

// eachCheckpoint calls fn for each (projection, seq, failed) row of rows, and closes it.
func eachCheckpoint(rows pgx.Rows, fn func(projection string, c Checkpoint)) error {
	defer rows.Close()
	for rows.Next() {
		var proj string
		var c Checkpoint
		if err := rows.Scan(&proj, &c.Seq, &c.Failed); err != nil {
			return err
		}
		fn(proj, c)
	}
	return rows.Err()
}

// Provision creates the tenant's schema, in this transaction (the projector meets the
// tenant's first event).
func (t *ProjectionTx) Provision(ctx context.Context) error {
	_, err := t.tx.Exec(ctx, provisionSQL, t.tenant)
	return err
}

// ReadEvents reads up to limit of the tenant's events after seq, in this transaction,
// ending before the events' documents pass budget (see BatchBudget; nil: unbounded). A
// read that budget cut sets budget.Cut: more events follow.
func (t *ProjectionTx) ReadEvents(ctx context.Context, afterSeq int64, limit int, budget *BatchBudget) ([]Event, error) {
	return readTenantIn(ctx, t.tx, t.tenant, afterSeq, limit, budget)
}

// SaveCheckpoint queues moving projection name's checkpoint to seq (sent by Flush).
func (t *ProjectionTx) SaveCheckpoint(name string, seq int64) {
	t.batch.Queue(saveCheckpointSQL, t.tenant, name, seq)
	t.moved = append(t.moved, movedCheckpoint{t.tenant, name, seq, false})
}

// AddUsage queues adding usage totals per hour and per day to the tenant's read models
// (sent by Flush): two statements however many buckets.
func (t *ProjectionTx) AddUsage(hourly, daily UsageTotals) {
	queueUsage(&t.batch, t.tenant, hourly, daily)
}

// Flush sends the queued writes in one round trip.
func (t *ProjectionTx) Flush(ctx context.Context) error {
	if t.batch.Len() == 0 {
		return nil
	}
	b := t.batch
	t.batch = pgx.Batch{}
	return t.tx.SendBatch(ctx, &b).Close()
}

// RecordFailure stops projection name of the tenant at checkpoint seq on event failedSeq,
// and reports whether this transaction recorded it (false: it was stopped already).
func (t *ProjectionTx) RecordFailure(ctx context.Context, name string, seq, failedSeq int64, message string) (recorded bool, err error) {
	tag, err := t.tx.Exec(ctx, recordFailureSQL, t.tenant, name, seq, failedSeq, message)
	t.moved = append(t.moved, movedCheckpoint{t.tenant, name, seq, true})
	return err == nil && tag.RowsAffected() == 1, err
}

// GroupClaim is one tenant of a group transaction (see ProjectGroup): its checkpoints,
// whether the carried projections' locks were taken, and its next events.
type GroupClaim struct {
	Tenant uuid.UUID
	Own    Checkpoint
	// Also holds GroupSpec.Also's checkpoints, in its order, each with whether this
	// transaction holds that projection's lock for the tenant (never waited for).
	Also []CarriedCheckpoint
	// WebhooksWanted says whether an enabled webhook endpoint (the tenant's or the
	// operator's) exists, read only when GroupSpec.Webhooks asks (see WebhooksWanted).
	WebhooksWanted bool
	Events         []Event
	// Cut says the group's byte budget ended Events early (it may hold none): more follow.
	Cut bool
}

// CarriedCheckpoint is a projection's checkpoint in a group transaction, and whether the
// transaction holds its lock.
type CarriedCheckpoint struct {
	Checkpoint
	Locked bool
}

// GroupSpec says what a group transaction reads: the events after projection Own's
// checkpoint (at most Limit per tenant, MaxBytes of documents in all), and the checkpoints
// of the projections in Also whose checkpoints may move along with Own's, over events they
// pass over.
type GroupSpec struct {
	Own      string
	Also     []string
	Webhooks bool
	Limit    int
	MaxBytes int
}

// GroupWrite is what a group transaction writes for one tenant: usage totals and
// checkpoints.
type GroupWrite struct {
	Tenant        uuid.UUID
	Hourly, Daily UsageTotals
	Checkpoints   []ProjectionSeq
}

// ProjectionSeq is a projection and the seq its checkpoint moves to.
type ProjectionSeq struct {
	Projection string
	Seq        int64
}

// ProjectGroup projects several tenants in one transaction, in three round trips: one
// takes each tenant's lock of projection name (tenants sorted by the caller, for one lock
// order in every process), tries its lock of projection also, and reads its checkpoints and
// up to limit events after name's checkpoint; decide says what to write; one round trip
// writes it all, each tenant in its own context. The transaction takes no id until the
// writes. The events read for all the tenants together stay within maxBytes of documents
// (BatchBudget; at most 0: MaxBatchBytes): once it is spent, the later tenants' reads end
// early, possibly empty, and say so (GroupClaim.Cut).
func (s *Store) ProjectGroup(ctx context.Context, tenants []uuid.UUID, spec GroupSpec,
	decide func([]GroupClaim) ([]GroupWrite, error),
) error {
	var moved []movedCheckpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		budget := NewBatchBudget(spec.MaxBytes)
		claims := make([]GroupClaim, len(tenants))
		b := &pgx.Batch{}
		b.Queue(asyncCommitSQL)
		for i, id := range tenants {
			c := &claims[i]
			c.Tenant = id
			c.Also = make([]CarriedCheckpoint, len(spec.Also))
			b.Queue(lockProjectionGroupSQL, id.String(), spec.Own)
			for j, also := range spec.Also {
				b.Queue(tryLockProjectionSQL, id.String(), also).QueryRow(func(r pgx.Row) error {
					return r.Scan(&c.Also[j].Locked)
				})
			}
			if spec.Webhooks {
				b.Queue(webhooksWantedSQL, id).QueryRow(func(r pgx.Row) error {
					return r.Scan(&c.WebhooksWanted)
				})
			}
			b.Queue(checkpointsSQL, id).Query(func(rows pgx.Rows) error {
				return eachCheckpoint(rows, func(proj string, cp Checkpoint) {
					if proj == spec.Own {
						c.Own = cp
					}
					if j := slices.Index(spec.Also, proj); j >= 0 {
						c.Also[j].Checkpoint = cp
					}
				})
			})
			b.Queue(nextEventsSQL, id, spec.Limit, spec.Own).Query(func(rows pgx.Rows) error {
				var err error
				budget.Cut = false
				c.Events, err = collectEventsWithin(rows, budget)
				c.Cut = budget.Cut
				return err
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		writes, err := decide(claims)
		if err != nil || len(writes) == 0 {
			return err
		}
		// pgx prepares a batch's new statements before running any of them, so the
		// unqualified read-model tables must resolve already: point search_path at the first
		// writer's schema (each tenant's own context follows in the batch, and PostgreSQL
		// re-plans a cached statement when search_path changes).
		if _, err := tx.Exec(ctx, tenantSearchPathSQL, writes[0].Tenant.String()); err != nil {
			return err
		}
		w := &pgx.Batch{}
		for _, g := range writes {
			w.Queue(TenantContextSQL, g.Tenant.String())
			queueUsage(w, g.Tenant, g.Hourly, g.Daily)
			for _, c := range g.Checkpoints {
				w.Queue(saveCheckpointSQL, g.Tenant, c.Projection, c.Seq)
				moved = append(moved, movedCheckpoint{g.Tenant, c.Projection, c.Seq, false})
			}
		}
		return tx.SendBatch(ctx, w).Close()
	})
	if err != nil {
		return err
	}
	hub.publishAll(moved)
	return nil
}

// ProjectionBacklog lists up to limit tenants whose stream is ahead of one of the named
// projections that is not stopped; no names means Tenantry's own (Projections). A projector
// running product modules names theirs too (projections.Projector.Names).
func (s *Store) ProjectionBacklog(ctx context.Context, limit int, names ...string) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, backlogSQL, limit, projectionNames(names))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// ProjectionFailure is a projection of a tenant that is stopped.
type ProjectionFailure struct {
	Tenant       uuid.UUID
	Projection   string
	ProjectedSeq int64
	FailedSeq    int64
	Error        string
	FailedAt     time.Time
}

// ProjectionFailures lists the projections of tenants that stopped on an event, for
// operators.
func (s *Store) ProjectionFailures(ctx context.Context) ([]ProjectionFailure, error) {
	rows, err := s.pool.Query(ctx, failuresSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProjectionFailure, error) {
		var f ProjectionFailure
		err := r.Scan(&f.Tenant, &f.Projection, &f.ProjectedSeq, &f.FailedSeq, &f.Error, &f.FailedAt)
		return f, err
	})
}

// IsTransient reports errors worth retrying: an allow-list of what a later attempt can
// get past (the connection or server going away, a serialization failure or deadlock, the
// server short of resources or shutting down, a lock or statement timing out, a network
// timeout). Everything else, the database refusing a statement on its merits or the
// projector's own Go code refusing an event (a row that must exist and does not, a key
// hash that is not SHA-256, an event type no projection knows), is deterministic: the
// same event fails the same way every time, so it is isolated instead of retried.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if len(pgErr.Code) < 2 {
			return false
		}
		switch pgErr.Code[:2] {
		case "08", "40", "53", "57": // connection, transaction rollback, resources, operator intervention (shutdown, cancel)
			return true
		}
		return pgErr.Code == "55P03" // lock_not_available (lock_timeout)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// A deadline or a cancellation: the caller tells shutdown apart (its own ctx).
		return true
	case errors.As(err, &connectErr), pgconn.SafeToRetry(err), pgconn.Timeout(err):
		return true
	case errors.As(err, &netErr): // a timeout, a reset or refused connection
		return true
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true // the connection went away mid-statement
	}
	return false
}
