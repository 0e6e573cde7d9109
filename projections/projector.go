package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// Projector keeps every tenant's read models up to date. Each batch of one tenant is one
// transaction with the tenant context and search_path set, and it moves the tenant's
// checkpoint in that same transaction, so an event's effects happen exactly once whatever
// crashes. Tenants take turns one batch at a time, so a tenant with a huge backlog delays
// another tenant's fresh event by at most one batch per worker. An event that cannot be
// applied stops that tenant only: it is logged, counted and listed by Failures.
type Projector struct {
	Pool         *pgxpool.Pool // the runtime role
	Registry     *eventstore.Registry
	Logger       *slog.Logger
	Workers      int           // default 4
	BatchSize    int           // default 500
	PollInterval time.Duration // how often the backlog is rescanned (default 5s)

	// Observe, when set, is told of every batch applied (before its commit; a batch whose
	// commit fails is applied again): the tenant, its size, and the newest recorded_at.
	Observe func(tenant uuid.UUID, events int, newest time.Time)

	afterBatch func(tenant uuid.UUID) // test hook: called after each committed batch

	mu      sync.Mutex
	queue   []uuid.UUID
	state   map[uuid.UUID]int // queued, running, or running+dirty
	wake    chan struct{}
	poisons atomic.Int64
}

const (
	queued = iota + 1
	running
	runningDirty
)

// Poisoned counts events that stopped a tenant's projection since start.
func (p *Projector) Poisoned() int64 { return p.poisons.Load() }

// Notify says a tenant has new events. It never blocks.
func (p *Projector) Notify(tenant uuid.UUID) {
	p.mu.Lock()
	p.init()
	switch p.state[tenant] {
	case 0:
		p.state[tenant] = queued
		p.queue = append(p.queue, tenant)
	case running:
		p.state[tenant] = runningDirty
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Projector) init() {
	if p.state == nil {
		p.state = map[uuid.UUID]int{}
		p.wake = make(chan struct{}, 1)
	}
}

// Consume marks the tenants of relayed messages for projection and acknowledges them; the
// events themselves are read from the store in seq order.
func (p *Projector) Consume(ctx context.Context, msgs <-chan *message.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if id, err := uuid.Parse(m.Metadata.Get(eventstore.MetaTenantID)); err == nil {
				p.Notify(id)
			}
			m.Ack()
		}
	}
}

// Run projects until ctx ends.
func (p *Projector) Run(ctx context.Context) error {
	if p.Workers <= 0 {
		p.Workers = 4
	}
	if p.BatchSize <= 0 {
		p.BatchSize = 500
	}
	if p.PollInterval <= 0 {
		p.PollInterval = 5 * time.Second
	}
	p.mu.Lock()
	p.init()
	p.mu.Unlock()
	var wg sync.WaitGroup
	for w := 0; w < p.Workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); p.work(ctx) }()
	}
	for {
		if err := p.scanBacklog(ctx); err != nil && ctx.Err() == nil {
			p.Logger.Warn("backlog scan failed", "err", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-time.After(p.PollInterval):
		}
	}
}

// scanBacklog queues every tenant whose stream is ahead of its projection: after a restart,
// and to catch any notification that was lost.
func (p *Projector) scanBacklog(ctx context.Context) error {
	rows, err := p.Pool.Query(ctx, `SELECT tenant_id FROM tenantry.projection_backlog(100000)`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	// Each replica takes the backlog in its own order, so replicas that scan together
	// spread over different tenants instead of queueing on the same tenants' locks.
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		p.Notify(id)
	}
	return nil
}

// nextGroup takes up to max tenants from the head of the queue, waiting for one.
func (p *Projector) nextGroup(ctx context.Context, max int) ([]uuid.UUID, bool) {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			n := min(max, len(p.queue))
			ids := append([]uuid.UUID(nil), p.queue[:n]...)
			p.queue = p.queue[n:]
			for _, id := range ids {
				p.state[id] = running
			}
			p.mu.Unlock()
			return ids, true
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-p.wake:
		}
	}
}

// done puts a tenant back at the end of the queue when it has more to do.
func (p *Projector) done(id uuid.UUID, more bool) {
	p.mu.Lock()
	if more || p.state[id] == runningDirty {
		p.state[id] = queued
		p.queue = append(p.queue, id)
	} else {
		delete(p.state, id)
	}
	p.mu.Unlock()
	if more {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// maxGroup bounds how many tenants one transaction projects on the fast path.
const maxGroup = 16

func (p *Projector) work(ctx context.Context) {
	for {
		ids, ok := p.nextGroup(ctx, maxGroup)
		if !ok {
			return
		}
		more := make(map[uuid.UUID]bool, len(ids))
		var alone []uuid.UUID
		if len(ids) > 1 {
			var err error
			if alone, err = p.projectGroup(ctx, ids, more); err != nil {
				alone = ids // nothing was written: each on its own
			}
		} else {
			alone = ids
		}
		for _, id := range alone {
			m, err := p.ProjectBatch(ctx, id)
			if err != nil && ctx.Err() == nil {
				// Transient (connection, serialization): try again after a pause.
				p.Logger.Warn("projection batch failed; will retry", "tenant_id", id, "err", err)
				time.Sleep(200 * time.Millisecond)
				m = true
			}
			more[id] = m
		}
		for _, id := range ids {
			p.done(id, more[id] && ctx.Err() == nil)
		}
	}
}

// groupEventsSQL reads a tenant's next events after its checkpoint, in the tenant context.
const groupEventsSQL = `SELECT ` + eventstore.EventColumns + ` FROM tenantry.events
WHERE tenant_id = $1 AND seq > coalesce((SELECT seq FROM tenantry.projections WHERE tenant_id = $1), 0)
ORDER BY seq LIMIT $2`

// projectGroup is the fast path for many tenants with a few new events each (the steady
// state under load): one transaction, one round trip to lock and read them all, one to
// write them all, one commit. Only tenants whose events are all usage records take it;
// it returns the others (new tenants, other event types, unreadable events) to be
// projected one by one. The transaction takes no id until the final writes.
func (p *Projector) projectGroup(ctx context.Context, ids []uuid.UUID, more map[uuid.UUID]bool) (alone []uuid.UUID, err error) {
	sorted := append([]uuid.UUID(nil), ids...) // one lock order for every process
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i][:], sorted[j][:]) < 0 })
	limit := p.batchSize()
	type work struct {
		id     uuid.UUID
		seq    int64
		failed *int64
		events []eventstore.Event
	}
	var done []uuid.UUID
	err = pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		ws := make([]*work, len(sorted))
		b := &pgx.Batch{}
		b.Queue(asyncCommitSQL)
		for i, id := range sorted {
			w := &work{id: id}
			ws[i] = w
			b.Queue(`SELECT set_config('tenantry.tenant_id', $1, true), pg_advisory_xact_lock(hashtextextended('projection:' || $1, 0))`, id.String())
			b.Queue(`SELECT seq, failed_seq FROM tenantry.projections WHERE tenant_id = $1`, id).QueryRow(func(r pgx.Row) error {
				if err := r.Scan(&w.seq, &w.failed); err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				return nil
			})
			b.Queue(groupEventsSQL, id, limit).Query(func(rows pgx.Rows) error {
				var err error
				w.events, err = eventstore.ScanEvents(rows)
				return err
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		writes := &pgx.Batch{}
		firstWriter := 0
		for _, w := range ws {
			switch {
			case w.failed != nil:
				continue // stopped: an operator must look at it
			case w.seq == 0:
				alone = append(alone, w.id) // needs provisioning
				continue
			case len(w.events) == 0:
				done = append(done, w.id)
				continue
			}
			var sums usageSums
			simple := true
			for i := range w.events {
				e := &w.events[i]
				pl, err := p.Registry.DecodeEvent(e)
				de, isDomain := pl.(domain.Event)
				recs, isUsage := usage.Records(de)
				if err != nil || !isDomain || !isUsage || e.Seq != w.seq+int64(i)+1 {
					simple = false
					break
				}
				for _, rec := range recs {
					sums.add(rec)
				}
			}
			if !simple {
				alone = append(alone, w.id)
				continue
			}
			if writes.Len() == 0 {
				firstWriter = len(done)
			}
			writes.Queue(tenantContextSQL, w.id.String())
			sums.queue(writes, w.id)
			writes.Queue(saveCheckpointSQL, w.id, w.events[len(w.events)-1].Seq)
			more[w.id] = len(w.events) == limit
			done = append(done, w.id)
		}
		if writes.Len() == 0 {
			return nil
		}
		// pgx prepares a batch's new statements before running any of them, so the
		// unqualified read-model tables must resolve already: point search_path at the first
		// writer's schema (each tenant's own set_config follows in the batch, and PostgreSQL
		// re-plans a cached statement when search_path changes).
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', tenantry.tenant_schema_name($1::uuid) || ', pg_catalog', true)`, done[firstWriter].String()); err != nil {
			return err
		}
		return tx.SendBatch(ctx, writes).Close()
	})
	if err != nil {
		return nil, err
	}
	if p.afterBatch != nil {
		for _, id := range done {
			p.afterBatch(id)
		}
	}
	return alone, nil
}

// poisonError marks an event that cannot be applied: retrying will not help.
type poisonError struct {
	seq int64
	err error
}

func (e *poisonError) Error() string { return fmt.Sprintf("event seq %d: %v", e.seq, e.err) }

// ProjectBatch applies the tenant's next batch of events and reports whether more remain.
func (p *Projector) ProjectBatch(ctx context.Context, tenant uuid.UUID) (more bool, err error) {
	more, err = p.projectBatch(ctx, tenant, 0)
	var poison *poisonError
	if !errors.As(err, &poison) {
		return more, err
	}
	// Apply what came before the poison event, and record the failure, in one transaction.
	if _, err = p.projectBatch(ctx, tenant, poison.seq); err != nil {
		return false, err
	}
	p.poisons.Add(1)
	p.Logger.Error("projection stopped for tenant: event cannot be applied", "tenant_id", tenant, "seq", poison.seq, "err", poison.err)
	return false, nil
}

// projectBatch runs one batch. With stopAt > 0 it applies only events before stopAt and
// records stopAt as the failed seq.
func (p *Projector) projectBatch(ctx context.Context, tenant uuid.UUID, stopAt int64) (more bool, err error) {
	err = pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		// One round trip: the tenant context and schema, the tenant's projection lock (so
		// projectors in other processes take turns on it), then the checkpoint. The lock is
		// an advisory one and every write comes at the end, so this transaction has no id
		// while it reads: a transaction id held open would hold back the relay's gap-safe
		// horizon, and with it every tenant's projection.
		seq, failed, err := lockProjection(ctx, tx, tenant)
		if err != nil {
			return err
		}
		if failed != nil {
			return nil // stopped: an operator must look at it
		}
		limit := p.batchSize()
		if stopAt > 0 {
			limit = int(stopAt - seq - 1)
		}
		var applied int
		if limit > 0 {
			if seq == 0 {
				// First event: provision the tenant's schema, in this same transaction.
				if _, err := tx.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, tenant); err != nil {
					if isTransient(err) {
						return err
					}
					return &poisonError{seq: 1, err: fmt.Errorf("provision schema: %w", err)}
				}
			}
			var err error
			if applied, seq, err = p.applyEvents(ctx, tx, tenant, seq, limit, func(b *pgx.Batch, last int64) {
				// The checkpoint travels with the batch's last writes.
				if stopAt == 0 {
					b.Queue(saveCheckpointSQL, tenant, last)
				}
			}); err != nil {
				return err
			}
		}
		if stopAt > 0 {
			_, err := tx.Exec(ctx, `INSERT INTO tenantry.projections AS p (tenant_id, seq, failed_seq, failed_error, failed_at)
				VALUES ($1, $2, $3, $4, now())
				ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, failed_seq = excluded.failed_seq,
					failed_error = excluded.failed_error, failed_at = now(), updated_at = now()`,
				tenant, seq, stopAt, fmt.Sprintf("event seq %d could not be applied", stopAt))
			return err
		}
		more = applied == limit
		return nil
	})
	if err == nil && p.afterBatch != nil {
		p.afterBatch(tenant)
	}
	return more, err
}

// asyncCommitSQL lets a projection transaction commit without waiting for its WAL flush.
// Safe: the read models and their checkpoint commit together, so a crash can only lose
// whole recent batches, which are then projected again from the events.
const asyncCommitSQL = `SELECT set_config('synchronous_commit', 'off', true)`

const saveCheckpointSQL = `INSERT INTO tenantry.projections AS p (tenant_id, seq) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, updated_at = now()`

// lockProjection sets the tenant context and search_path, takes the tenant's projection
// lock (advisory, transaction-scoped: it assigns no transaction id) and reads the
// checkpoint: how far the read models are, and the failed seq if they are stopped.
func lockProjection(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (seq int64, failed *int64, err error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('tenantry.tenant_id', $1, true), set_config('search_path', tenantry.tenant_schema_name($1::uuid) || ', pg_catalog', true),
		set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtextextended('projection:' || $1, 0))`, tenant.String())
	b.Queue(`SELECT seq, failed_seq FROM tenantry.projections WHERE tenant_id = $1`, tenant).QueryRow(func(r pgx.Row) error {
		err := r.Scan(&seq, &failed)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // never projected
		}
		return err
	})
	err = tx.SendBatch(ctx, b).Close()
	return seq, failed, err
}

// applyEvents applies up to limit events after seq and returns how many and the last seq.
// finish, when set, may queue statements into the batch that carries the last writes.
func (p *Projector) applyEvents(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, seq int64, limit int, finish func(b *pgx.Batch, last int64)) (int, int64, error) {
	events, err := eventstore.ReadTenantIn(ctx, tx, tenant, seq, limit)
	if err != nil {
		return 0, seq, err
	}
	var sums usageSums
	for i := range events {
		e := &events[i]
		if e.Seq != seq+1 {
			return 0, seq, &poisonError{seq: seq + 1, err: fmt.Errorf("missing event (found seq %d)", e.Seq)}
		}
		payload, err := p.Registry.DecodeEvent(e)
		if err != nil {
			return 0, seq, &poisonError{seq: e.Seq, err: err}
		}
		de, ok := payload.(domain.Event)
		if !ok {
			return 0, seq, &poisonError{seq: e.Seq, err: fmt.Errorf("%T is not a domain event", payload)}
		}
		// Usage is the bulk of all events and only adds up: sum it and write once per batch.
		if recs, ok := usage.Records(de); ok {
			for _, rec := range recs {
				sums.add(rec)
			}
		} else if err := apply(ctx, tx, e, de); err != nil {
			if isTransient(err) {
				return 0, seq, err
			}
			return 0, seq, &poisonError{seq: e.Seq, err: err}
		}
		seq = e.Seq
	}
	if len(events) == 0 {
		return 0, seq, nil
	}
	b := &pgx.Batch{}
	sums.queue(b, tenant)
	if finish != nil {
		finish(b, seq)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return 0, seq, err // no single event to blame: retried as a whole
		}
	}
	if p.Observe != nil && len(events) > 0 {
		p.Observe(tenant, len(events), events[len(events)-1].RecordedAt)
	}
	return len(events), seq, nil
}

// isTransient reports errors worth retrying: anything that is not the database refusing
// the statement itself (a lost connection, a cancelled context, a serialization failure).
func isTransient(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	switch pgErr.Code[:2] {
	case "40", "53", "57", "08": // transaction rollback, resources, operator intervention, connection
		return true
	}
	return false
}

// Failure is a tenant whose projection is stopped.
type Failure struct {
	Tenant       uuid.UUID
	ProjectedSeq int64
	FailedSeq    int64
	Error        string
	FailedAt     time.Time
}

// Failures lists the tenants whose projection stopped on an event, for operators.
func Failures(ctx context.Context, pool *pgxpool.Pool) ([]Failure, error) {
	rows, err := pool.Query(ctx, `SELECT tenant_id, projected_seq, failed_seq, failed_error, failed_at FROM tenantry.projection_failures()`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failure, error) {
		var f Failure
		err := r.Scan(&f.Tenant, &f.ProjectedSeq, &f.FailedSeq, &f.Error, &f.FailedAt)
		return f, err
	})
}

// WaitFor blocks until the tenant's read models include seq, for readers that need to read
// their own writes, or until timeout (then it returns context.DeadlineExceeded).
func WaitFor(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, seq int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var got int64
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, tenant.String()); err != nil {
				return err
			}
			err := tx.QueryRow(ctx, `SELECT seq FROM tenantry.projections WHERE tenant_id = $1`, tenant).Scan(&got)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		if got >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
