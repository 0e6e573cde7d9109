// Package billing is the billing worker: it links each tenant to a Stripe customer and
// subscription, pushes metered usage to Stripe as billing meter events, applies Stripe's
// webhook deliveries to the tenant's lifecycle, and suspends tenants whose grace period
// after a failed payment has ended. Every decision is a domain/billing or domain/tenant
// event, so the ledger of what Stripe was told lives in the tenant's own event stream.
package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/logctx"
)

// Worker does the billing work. Several workers (in one process or many) may run at once:
// a tenant's billing work runs under a PostgreSQL advisory lock held by one of them, and
// every append checks the stream version it decided on.
type Worker struct {
	Store    *eventstore.Store
	Registry *eventstore.Registry
	Stripe   *client.API
	Caller   *Caller
	Config   Config
	Logger   *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// Concurrency is how many tenants a cycle works on at once (default 4).
	Concurrency int
	// Claim, when set, makes Run's cycles run once per period across replicas: a cycle runs
	// only if this process claims ("billing_cycle", the period), and finish marks it done.
	Claim func(ctx context.Context, job string, period time.Time) (finish func(), ok bool, err error)

	once      sync.Once
	provision chan uuid.UUID

	cycles, cycleFailures, tenantFailures, windows atomic.Int64
}

// WorkerStats counts the worker's work since start, for metrics.
type WorkerStats struct {
	Cycles, CycleFailures, TenantFailures, Windows int64
}

// Stats returns the counts so far.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{Cycles: w.cycles.Load(), CycleFailures: w.cycleFailures.Load(),
		TenantFailures: w.tenantFailures.Load(), Windows: w.windows.Load()}
}

// lockClass is the advisory-lock class of per-tenant billing work (the event writers'
// class is 7365710).
const lockClass = 7365711

func (w *Worker) init() {
	w.once.Do(func() {
		w.Config = w.Config.WithDefaults()
		w.provision = make(chan uuid.UUID, 1024)
		if w.Caller == nil {
			w.Caller = &Caller{}
		}
		if w.Logger == nil {
			w.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

func (w *Worker) pool() *pgxpool.Pool { return w.Store.Pool() }

// ErrBusy means another worker holds the tenant's billing lock.
var ErrBusy = errors.New("another worker is billing this tenant")

// withTenant runs fn while holding the tenant's billing lock, a session-level advisory lock
// on a connection kept for the duration: if the process dies the connection closes and the
// lock is released. ErrBusy when another worker holds it.
func (w *Worker) withTenant(ctx context.Context, id uuid.UUID, fn func(context.Context) error) error {
	conn, err := w.pool().Acquire(ctx)
	if err != nil {
		return err
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, lockClass, id.String()).Scan(&got); err != nil {
		conn.Release()
		return err
	}
	if !got {
		conn.Release()
		return ErrBusy
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext($2))`, lockClass, id.String()); err != nil {
			_ = conn.Hijack().Close(context.WithoutCancel(ctx)) // never pool a connection that may hold the lock
			return
		}
		conn.Release()
	}()
	return fn(ctx)
}

func newTenant() *tenant.Tenant { return &tenant.Tenant{} }

// CycleStats sums one cycle.
type CycleStats struct {
	Tenants     int // tenants worked on
	Busy        int // skipped: another worker had them
	Failed      int // tenants whose work failed (the others went on)
	Provisioned int // tenants linked to Stripe or moved to a new plan
	Windows     int // usage window revisions confirmed by Stripe
	Suspended   int // tenants suspended at the end of their grace period
}

func (s *CycleStats) add(o TenantStats) {
	s.Provisioned += o.Provisioned
	s.Windows += o.Windows
	s.Suspended += o.Suspended
}

// TenantStats is what one tenant's billing work did.
type TenantStats struct {
	Provisioned int
	Windows     int
	Suspended   int
}

// Cycle runs the billing work once for every tenant in the directory: provision, push usage,
// check the grace period. A tenant that fails is logged and counted; the others go on.
func (w *Worker) Cycle(ctx context.Context) (CycleStats, error) {
	w.init()
	start := time.Now()
	var stats CycleStats
	var mu sync.Mutex
	n := w.Concurrency
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	err := w.Store.EachTenant(ctx, func(t eventstore.TenantEntry) error {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ts, err := w.Tenant(ctx, t.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrBusy):
				stats.Busy++
			case err != nil:
				stats.Failed++
				if ctx.Err() == nil {
					w.Logger.Error("billing failed for a tenant", "tenant_id", t.ID, "err", err)
				}
			default:
				stats.Tenants++
			}
			stats.add(ts)
		}()
		return nil
	})
	if err != nil {
		wg.Wait()
		w.cycleFailures.Add(1)
		return stats, err
	}
	wg.Wait()
	w.cycles.Add(1)
	w.tenantFailures.Add(int64(stats.Failed))
	w.windows.Add(int64(stats.Windows))
	w.Logger.Info("billing cycle done", "tenants", stats.Tenants, "busy", stats.Busy, "failed", stats.Failed,
		"provisioned", stats.Provisioned, "windows", stats.Windows, "suspended", stats.Suspended,
		"duration", time.Since(start).Round(time.Millisecond))
	return stats, ctx.Err()
}

// Tenant runs one tenant's billing work under its lock: provision or move the subscription
// to the current plan, push unreported usage, suspend when the grace period has ended.
func (w *Worker) Tenant(ctx context.Context, id uuid.UUID) (TenantStats, error) {
	w.init()
	ctx = logctx.With(ctx, "tenant_id", id.String())
	var st TenantStats
	err := w.withTenant(ctx, id, func(ctx context.Context) error {
		n, err := w.provisionLocked(ctx, id)
		st.Provisioned += n
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		if st.Suspended, err = w.dunning(ctx, id); err != nil {
			return fmt.Errorf("dunning: %w", err)
		}
		st.Windows, err = w.pushLocked(ctx, id)
		if err != nil {
			return fmt.Errorf("push usage: %w", err)
		}
		return nil
	})
	return st, err
}

// Consume takes the relay's messages and queues tenants whose plan was set or changed for
// prompt provisioning (the next cycle would catch them anyway). It acknowledges at once:
// the relay waits for every subscriber, and Stripe calls must not hold it up.
func (w *Worker) Consume(ctx context.Context, msgs <-chan *message.Message) {
	w.init()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if eventstore.MessageHasType(m, provisionEvent) {
				if id, err := uuid.Parse(m.Metadata.Get(eventstore.MetaTenantID)); err == nil {
					select {
					case w.provision <- id:
					default: // full: the next cycle provisions it
					}
				}
			}
			m.Ack()
		}
	}
}

// provisionEvent says whether an event of this type asks for prompt provisioning.
func provisionEvent(eventType string) bool {
	return eventType == tenant.TypeCreated || eventType == tenant.TypePlanChanged
}

// Run provisions queued tenants as they come and runs a cycle at start and every
// Config.Interval (with Claim, one per period across replicas, tried every minute), until
// ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	tick := time.NewTicker(claimTick(w.Config.Interval, w.Claim != nil))
	defer tick.Stop()
	cycle := func() {
		if w.Claim != nil {
			finish, ok, err := w.Claim(ctx, "billing_cycle", w.now().Truncate(w.Config.Interval))
			if err != nil || !ok {
				if err != nil && ctx.Err() == nil {
					w.Logger.Error("could not claim the billing cycle", "err", err)
				}
				return // another replica runs this period
			}
			defer finish()
		}
		if _, err := w.Cycle(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Error("billing cycle failed", "err", err)
		}
	}
	cycle()
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-w.provision:
			err := w.withTenant(logctx.With(ctx, "tenant_id", id.String()), id, func(ctx context.Context) error {
				_, err := w.provisionLocked(ctx, id)
				return err
			})
			if err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
				w.Logger.Error("provisioning failed; the next cycle retries", "tenant_id", id, "err", err)
			}
		case <-tick.C:
			cycle()
		}
	}
}

// claimTick is how often Run tries to run a cycle: every interval, or, when cycles are
// claimed per period across replicas, at least every minute, so that a period whose
// claimant died is taken over soon after its lease ends rather than a period later.
func claimTick(interval time.Duration, claimed bool) time.Duration {
	if claimed && interval > time.Minute {
		return time.Minute
	}
	return interval
}

// append encodes events with meta and appends them to one stream at the version decided on.
func (w *Worker) append(ctx context.Context, id uuid.UUID, stream string, version int64, meta eventstore.Metadata, events ...domain.Event) (eventstore.AppendResult, error) {
	out, err := w.encode(meta, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	return w.Store.Append(ctx, id, stream, eventstore.Exact(version), out...)
}

func (w *Worker) encode(meta eventstore.Metadata, events []domain.Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		ne, err := w.Registry.Encode(e, meta)
		if err != nil {
			return nil, err
		}
		out[i] = ne
	}
	return out, nil
}
