// Package quotas runs the soft quota alerts (domain/app.QuotaAlerts): a bus consumer notes
// the tenants whose usage (or plan) changed, and one loop checks each noted tenant's quotas
// for the current and the previous quota period (records may be dated up to 35 days back).
// A sweep at start and every Config.Sweep checks every tenant on a plan with a soft quota,
// so that a crossing noticed by no consumer (a worker that died between the usage and its
// check) is recorded at the latest by the next sweep. Checking is idempotent (alerts have
// derived ids), so replicas, restarts and redelivered messages never record an alert twice.
package quotas

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	usecases "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// Config is what a Worker is built from; New checks it and fills its defaults.
type Config struct {
	Alerts *usecases.QuotaAlerts
	// TenantsOnPlan lists the tenants on a plan (any version), for the sweep.
	TenantsOnPlan func(ctx context.Context, plan domain.PlanName) ([]uuid.UUID, error)
	// Sweep is how often every tenant on a plan with a soft quota is checked (default 10
	// minutes); negative: only at start.
	Sweep  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Worker records soft quota alerts; see the package comment.
type Worker struct {
	cfg  Config
	mu   sync.Mutex
	due  map[uuid.UUID]bool // tenants to check
	wake chan struct{}
}

// New builds a worker from cfg.
func New(cfg Config) (*Worker, error) {
	if cfg.Alerts == nil || cfg.TenantsOnPlan == nil {
		return nil, errors.New("quota alerts: Alerts and TenantsOnPlan are required")
	}
	if cfg.Sweep == 0 {
		cfg.Sweep = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg, due: map[uuid.UUID]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Consume notes the tenants of the relay's messages that record usage or change a plan. It
// acknowledges at once: the in-process bus waits for every subscriber, and a note lost with
// the process is caught by the next sweep.
func (w *Worker) Consume(ctx context.Context, msgs <-chan *message.Message) {
	eventstore.NoteTenants(ctx, msgs, alertingEvent, func(id uuid.UUID) { w.note(id) })
}

// alertingEvent says whether an event of this type may cross a quota threshold.
func alertingEvent(t string) bool {
	return t == usage.TypeRecorded || t == usage.TypeBatchRecorded || t == tenant.TypePlanChanged
}

// maxDue bounds the noted tenants; beyond it notes are dropped (the sweep catches them).
const maxDue = 100_000

func (w *Worker) note(ids ...uuid.UUID) {
	w.mu.Lock()
	for _, id := range ids {
		if len(w.due) < maxDue {
			w.due[id] = true
		}
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sweeps, then checks noted tenants as they come and sweeps every Config.Sweep, until
// ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.sweep(ctx)
	var tick <-chan time.Time
	if w.cfg.Sweep > 0 {
		t := time.NewTicker(w.cfg.Sweep)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			w.sweep(ctx)
		case <-w.wake:
		}
		w.checkDue(ctx)
	}
}

// sweep notes every tenant on a plan that has a soft quota in some version.
func (w *Worker) sweep(ctx context.Context) {
	for plan := range usecases.SoftQuotaPlans(w.cfg.Alerts.Plans.Current()) {
		ids, err := w.cfg.TenantsOnPlan(ctx, plan)
		if err != nil {
			if ctx.Err() == nil {
				w.cfg.Logger.Error("quota alert sweep: list tenants", "plan", plan.String(), "err", err)
			}
			continue
		}
		w.note(ids...)
	}
}

// checkDue checks every noted tenant once (notes made meanwhile wait for the next round).
func (w *Worker) checkDue(ctx context.Context) {
	w.mu.Lock()
	due := w.due
	w.due = map[uuid.UUID]bool{}
	w.mu.Unlock()
	for id := range due {
		if ctx.Err() != nil {
			return
		}
		if err := w.Check(ctx, id); err != nil && ctx.Err() == nil {
			w.cfg.Logger.Error("quota alert check failed; the next usage or sweep retries", "tenant_id", id, "err", err)
		}
	}
}

// Check records the tenant's due alerts of the current and the previous quota period.
func (w *Worker) Check(ctx context.Context, id uuid.UUID) error {
	now := billing.Period(w.cfg.Now())
	for _, period := range []time.Time{now, now.AddDate(0, -1, 0)} {
		n, err := w.cfg.Alerts.Check(ctx, id, period)
		if err != nil {
			if errors.Is(err, eventstore.ErrTenantNotFound) {
				return nil // not in the directory yet: its next usage or the sweep checks it
			}
			return err
		}
		if n > 0 {
			w.cfg.Logger.InfoContext(ctx, "quota alerts recorded", "tenant_id", id, "period", period.Format("2006-01"), "alerts", n)
		}
	}
	return nil
}
