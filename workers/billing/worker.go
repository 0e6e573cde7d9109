// Package billing is the billing worker: the port that runs the billing use cases
// (domain/app.BillingCycle) for every tenant on a schedule and when a tenant's plan is set,
// one worker at a time per tenant, and the Stripe adapter (stripe.go) they call. Stripe's
// webhook deliveries are applied by the API through domain/app.StripeDeliveries.
//
// Metrics are pushed by their definition (Config.Definitions). A counter's hour windows go
// out as deltas of their exact (possibly decimal) totals; a meter event's value is the
// decimal's plain text, at most 15 significant digits. A gauge is billed per UTC month
// (domain/billing.Period): one billed by max goes to a Stripe meter whose formula is sum,
// as the rises of the month's highest reading, so the meter's sum is the maximum; one
// billed by last goes to a meter whose formula is last, as the month's last reading (by
// occurred_at) each time it changes, timestamped after the previous push. Every push is
// planned in the tenant's ledger before the call and confirmed after it, under derived
// identifiers and idempotency keys, so no retry or crash counts twice (domain/billing).
package billing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/app/logctx"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

// Worker does the billing work. Several workers (in one process or many) may run at once:
// a tenant's billing work runs under a PostgreSQL advisory lock held by one of them, and
// every append checks the stream version it decided on.
type Worker struct {
	cfg       Config
	steps     *app.BillingCycle
	provision chan uuid.UUID

	cycles, cycleFailures, tenantFailures, windows atomic.Int64
}

// provisionQueue bounds the tenants queued for prompt provisioning; beyond it the next
// cycle provisions them.
const provisionQueue = 1024

// New builds a worker: cfg is defaulted and validated here, once.
func New(cfg Config) (*Worker, error) {
	cfg = cfg.WithDefaults().withCollaborators()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	steps, err := app.NewBillingCycle(eventstore.DomainStore{Store: cfg.Store, Registry: cfg.Registry},
		&StripeClient{API: cfg.Stripe, Caller: cfg.Caller}, UsageTotals{Store: cfg.Store, ReadModels: cfg.ReadModels},
		app.ClockFunc(cfg.Now), cfg.Logger, app.BillingConfig{Prices: cfg.Prices, Plans: cfg.Plans, Meters: cfg.Meters, Settle: cfg.Settle,
			Definitions: cfg.Definitions})
	if err != nil {
		return nil, fmt.Errorf("billing worker: %w", err)
	}
	return &Worker{cfg: cfg, steps: steps, provision: make(chan uuid.UUID, provisionQueue)}, nil
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

// StripeStats returns the counts of the worker's Stripe calls.
func (w *Worker) StripeStats() CallerStats { return w.cfg.Caller.Stats() }

// ErrBusy means another worker holds the tenant's billing lock.
var ErrBusy = errors.New("another worker is billing this tenant")

// withTenant runs fn while holding the tenant's billing lock (eventstore.LockBillingJob, a
// session-level lock released if the process dies). ErrBusy when another worker holds it.
func (w *Worker) withTenant(ctx context.Context, id uuid.UUID, fn func(context.Context) error) error {
	err := w.cfg.Store.WithTenantLock(ctx, eventstore.LockBillingJob, id, fn)
	if errors.Is(err, eventstore.ErrLockBusy) {
		return ErrBusy
	}
	return err
}

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
	start := time.Now()
	var stats CycleStats
	var mu sync.Mutex
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	err := w.cfg.ReadModels.EachTenant(ctx, func(id uuid.UUID) error {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ts, err := w.Tenant(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrBusy):
				stats.Busy++
			case err != nil:
				stats.Failed++
				if ctx.Err() == nil {
					w.cfg.Logger.Error("billing failed for a tenant", "tenant_id", id, "err", err)
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
	w.cfg.Logger.Info("billing cycle done", "tenants", stats.Tenants, "busy", stats.Busy, "failed", stats.Failed,
		"provisioned", stats.Provisioned, "windows", stats.Windows, "suspended", stats.Suspended,
		"duration_ms", float64(time.Since(start))/float64(time.Millisecond))
	return stats, ctx.Err()
}

// Tenant runs one tenant's billing work under its lock: provision or move the subscription
// to the current plan, push unreported usage, suspend when the grace period has ended.
func (w *Worker) Tenant(ctx context.Context, id uuid.UUID) (TenantStats, error) {
	ctx = logctx.With(ctx, "tenant_id", id.String())
	var st TenantStats
	err := w.withTenant(ctx, id, func(ctx context.Context) error {
		n, err := w.steps.Provision(ctx, id)
		st.Provisioned += n
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		if st.Suspended, err = w.steps.Dunning(ctx, id); err != nil {
			return fmt.Errorf("dunning: %w", err)
		}
		st.Windows, err = w.steps.PushUsage(ctx, id)
		if err != nil {
			return fmt.Errorf("push usage: %w", err)
		}
		return nil
	})
	return st, err
}

// Provision links the tenant to a Stripe customer and subscription, or moves the
// subscription to the tenant's current plan (app.BillingCycle.Provision), under its billing
// lock (ErrBusy when another worker has it).
func (w *Worker) Provision(ctx context.Context, id uuid.UUID) (int, error) {
	return w.locked(ctx, id, w.steps.Provision)
}

// Push sends the tenant's unreported usage to Stripe (app.BillingCycle.PushUsage) under
// its billing lock (ErrBusy when another worker has it) and returns how many window
// revisions Stripe confirmed.
func (w *Worker) Push(ctx context.Context, id uuid.UUID) (int, error) {
	return w.locked(ctx, id, w.steps.PushUsage)
}

// locked runs one billing step of the tenant under its lock.
func (w *Worker) locked(ctx context.Context, id uuid.UUID, step func(context.Context, uuid.UUID) (int, error)) (int, error) {
	ctx = logctx.With(ctx, "tenant_id", id.String())
	var n int
	err := w.withTenant(ctx, id, func(ctx context.Context) error {
		var err error
		n, err = step(ctx, id)
		return err
	})
	return n, err
}

// Consume takes the relay's messages and queues tenants whose plan was set or changed for
// prompt provisioning (the next cycle would catch them anyway). It acknowledges at once:
// the relay waits for every subscriber, and Stripe calls must not hold it up.
func (w *Worker) Consume(ctx context.Context, msgs <-chan *message.Message) {
	eventstore.NoteTenants(ctx, msgs, provisionEvent, func(id uuid.UUID) {
		select {
		case w.provision <- id:
		default: // full: the next cycle provisions it
		}
	})
}

// provisionEvent says whether an event of this type asks for prompt provisioning.
func provisionEvent(eventType string) bool {
	return eventType == tenant.TypeCreated || eventType == tenant.TypePlanChanged
}

// Run provisions queued tenants as they come and runs a cycle at start and every
// Config.Interval (with Claim, one per period across replicas, tried every minute), until
// ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	tick := time.NewTicker(claimTick(w.cfg.Interval, w.cfg.Claim != nil))
	defer tick.Stop()
	cycle := func() {
		if w.cfg.Claim != nil {
			finish, ok, err := w.cfg.Claim(ctx, "billing_cycle", w.cfg.Now().UTC().Truncate(w.cfg.Interval))
			if err != nil || !ok {
				if err != nil && ctx.Err() == nil {
					w.cfg.Logger.Error("could not claim the billing cycle", "err", err)
				}
				return // another replica runs this period
			}
			defer finish()
		}
		if _, err := w.Cycle(ctx); err != nil && ctx.Err() == nil {
			w.cfg.Logger.Error("billing cycle failed", "err", err)
		}
	}
	cycle()
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-w.provision:
			if _, err := w.Provision(ctx, id); err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
				w.cfg.Logger.Error("provisioning failed; the next cycle retries", "tenant_id", id, "err", err)
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
