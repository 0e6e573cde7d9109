package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/entitlements"
	"github.com/tenantry/tenantry/domain/plans"
)

// Entitlements answers what tenants' plans allow them now (issue 20, part 4) from memory:
// per tenant the current quota period's usage totals with the head seq they reflect, loaded
// once (one query) and kept current by the tenant's event stream (a watch woken by this
// process's appends at once and by other processes' through NOTIFY; each wake is one query,
// and wakes during a refresh coalesce into the next). Answers do no I/O once the tenant is
// loaded. Memory is bounded (EntitlementsConfig.MaxTenants, least recently used first out;
// tenants idle for IdleAfter leave on Run's sweep). Build it with NewEntitlements.
type Entitlements struct {
	src     UsageTotalsSource
	catalog *PlanCatalog
	clock   Clock
	cfg     EntitlementsConfig
	mem     *tenantMemories
}

// UsageTotalsSource is what the memory reads: a tenant's head and usage totals of one
// quota period in one snapshot, the tenant's head alone, and a watch of its events.
type UsageTotalsSource interface {
	UsageTotals(ctx context.Context, tenant uuid.UUID, period time.Time) (head int64, totals entitlements.Totals, err error)
	Head(ctx context.Context, tenant uuid.UUID) (int64, error)
	WatchTenant(tenant uuid.UUID, afterSeq int64) TenantWatch
}

// TenantWatch wakes when a tenant's head moves past what it has seen (Wait answers true),
// or answers false when ctx ends.
type TenantWatch interface {
	Wait(ctx context.Context) bool
	Close()
}

// EntitlementsConfig bounds the memory; zero fields take the defaults.
type EntitlementsConfig struct {
	// MaxTenants is the most tenants held (default 10,000): each holds a watch and a
	// goroutine, and the least recently used leaves first.
	MaxTenants int
	// IdleAfter is how long a tenant nobody asked about stays (default 10 minutes).
	IdleAfter time.Duration
	// MaxWait bounds how long a read waits for the memory to reflect its min_seq
	// (default 2s), and a tenant's first load.
	MaxWait time.Duration
	// OnError hears refresh failures (the memory keeps its last answer and retries).
	OnError func(tenant uuid.UUID, err error)
}

// ErrEntitlementsBehind is answered when the memory has not reached a read's min_seq
// within MaxWait (the seq is recorded: asking again shortly answers it).
var ErrEntitlementsBehind = errors.New("entitlements have not caught up with the requested seq yet")

// NewEntitlements builds the memory over src, answering plans from catalog.
func NewEntitlements(src UsageTotalsSource, catalog *PlanCatalog, clock Clock, cfg EntitlementsConfig) *Entitlements {
	if cfg.MaxTenants <= 0 {
		cfg.MaxTenants = 10_000
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = 10 * time.Minute
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 2 * time.Second
	}
	if clock == nil {
		clock = SystemClock
	}
	e := &Entitlements{src: src, catalog: catalog, clock: clock, cfg: cfg}
	e.mem = newTenantMemories(e)
	return e
}

// EntitlementsAnswer is a tenant's entitlements and the head seq of the usage they reflect.
type EntitlementsAnswer struct {
	entitlements.List
	Seq int64
}

// CheckAnswer is a check's answer and the head seq of the usage it reflects.
type CheckAnswer struct {
	entitlements.Answer
	Period entitlements.Period
	Seq    int64
}

// List answers the tenant's entitlements on plan version (key, version) once the memory
// reflects minSeq (0: whatever it holds). A minSeq beyond the tenant's head is invalid; one
// not reached within MaxWait is ErrEntitlementsBehind.
func (e *Entitlements) List(ctx context.Context, tenant uuid.UUID, key domain.PlanName, version int, minSeq int64) (EntitlementsAnswer, error) {
	plan, err := e.plan(ctx, key, version)
	if err != nil {
		return EntitlementsAnswer{}, err
	}
	snap, err := e.snapshot(ctx, tenant, minSeq)
	if err != nil {
		return EntitlementsAnswer{}, err
	}
	return EntitlementsAnswer{List: entitlements.Of(plan, e.catalog, snap.period, snap.totals), Seq: snap.head}, nil
}

// Check answers whether the tenant on plan version (key, version) may use a feature or a
// quantity of a metric (entitlements.ParseRequest's fields), from memory.
func (e *Entitlements) Check(ctx context.Context, tenant uuid.UUID, key domain.PlanName, version int, feature, metric, quantity string) (CheckAnswer, error) {
	plan, err := e.plan(ctx, key, version)
	if err != nil {
		return CheckAnswer{}, err
	}
	req, err := entitlements.ParseRequest(feature, metric, quantity, plan, e.catalog)
	if err != nil {
		return CheckAnswer{}, err
	}
	snap, err := e.snapshot(ctx, tenant, 0)
	if err != nil {
		return CheckAnswer{}, err
	}
	return CheckAnswer{Answer: entitlements.Check(plan, e.catalog, snap.period, snap.totals, req), Period: snap.period, Seq: snap.head}, nil
}

// plan is the plan version from the catalog in memory; a version this process has not
// read yet (just defined through another replica) costs one refresh.
func (e *Entitlements) plan(ctx context.Context, key domain.PlanName, version int) (plans.Plan, error) {
	if p, ok := e.catalog.Current().Version(key, version); ok {
		return p, nil
	}
	cat, err := e.catalog.Fresh(ctx)
	if err != nil {
		return plans.Plan{}, err
	}
	if p, ok := cat.Version(key, version); ok {
		return p, nil
	}
	return plans.Plan{}, fmt.Errorf("plan %s version %d is not in the catalog", key, version)
}

// snapshot is the tenant's usage in the current period, reflecting at least minSeq.
func (e *Entitlements) snapshot(ctx context.Context, tenant uuid.UUID, minSeq int64) (*usageSnapshot, error) {
	now := e.clock.Now()
	tm := e.mem.get(tenant, now)
	if s := tm.snap.Load(); s != nil && s.head >= minSeq && s.period.Contains(now) {
		return s, nil // the hot path: no I/O, no wait
	}
	if s := tm.snap.Load(); s != nil && !s.period.Contains(now) {
		tm.poke() // the period ended: reload the new one now rather than at follow's own deadline
	}
	if minSeq > 0 {
		head, err := e.src.Head(ctx, tenant)
		if err != nil {
			return nil, err
		}
		if minSeq > head {
			return nil, domain.Invalid("min_seq", "min_seq %d is beyond the tenant's last event seq %d", minSeq, head)
		}
		if s := tm.snap.Load(); s != nil && s.head < minSeq {
			tm.poke() // recorded, yet not in memory: refresh without waiting for the watch
		}
	}
	return tm.await(ctx, e.cfg.MaxWait, func(s *usageSnapshot) bool {
		return s.head >= minSeq && s.period.Contains(e.clock.Now())
	})
}

// Run sweeps out idle tenants every minute until ctx ends, then drops every tenant (their
// watches close).
func (e *Entitlements) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	defer e.mem.closeAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			e.mem.sweep(e.clock.Now())
		}
	}
}

// Held is how many tenants the memory holds.
func (e *Entitlements) Held() int { return e.mem.len() }
