package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

// PlanCatalog is the plan catalog in memory: the default catalog with the catalog stream
// (plans.Partition, plans.StreamID) folded over it, kept current by Refresh (Run polls; a
// write path refreshes before it decides). Readers get an immutable *plans.Catalog, so
// lookups on the request path take no lock and do no I/O. Build it with NewPlanCatalog.
type PlanCatalog struct {
	events  EventStore
	cur     atomic.Pointer[plans.Catalog]
	mu      sync.Mutex // one refresh or apply at a time
	refresh chan struct{}
}

// NewPlanCatalog starts from base (plans.Default with the configured limits); call
// Refresh before serving so the stored catalog is folded in.
func NewPlanCatalog(events EventStore, base *plans.Catalog) *PlanCatalog {
	c := &PlanCatalog{events: events, refresh: make(chan struct{}, 1)}
	c.cur.Store(base)
	return c
}

// Current is the catalog as last refreshed.
func (c *PlanCatalog) Current() *plans.Catalog { return c.cur.Load() }

// Fresh refreshes the catalog and answers it: write paths decide on it.
func (c *PlanCatalog) Fresh(ctx context.Context) (*plans.Catalog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *PlanCatalog) refreshLocked(ctx context.Context) (*plans.Catalog, error) {
	cur := c.cur.Load()
	var next *plans.Catalog
	for {
		page, err := c.events.ReadStream(ctx, plans.Partition, plans.StreamID, cur.StreamVersion()+1, readPage)
		if err != nil {
			return cur, fmt.Errorf("read the plan catalog: %w", err)
		}
		if len(page) == 0 {
			break
		}
		if next == nil {
			next = cur.Clone()
		}
		for _, r := range page {
			if err := next.Apply(r.Event); err != nil {
				return cur, fmt.Errorf("fold the plan catalog at v%d: %w", r.StreamVersion, err)
			}
		}
		if len(page) < readPage {
			break
		}
	}
	if next != nil {
		c.cur.Store(next)
		return next, nil
	}
	return cur, nil
}

// Limits answers a plan version's limits from memory. A version this process has not read
// yet (another replica just defined it) answers its plan's current limits, and asks Run to
// refresh now.
func (c *PlanCatalog) Limits(key domain.PlanName, version int) domain.Limits {
	cat := c.Current()
	if l := cat.Limits(key, version); l.Valid() {
		return l
	}
	c.Poke()
	if p, ok := cat.Current(key); ok {
		return p.Limits
	}
	if vs := cat.Versions(key); len(vs) > 0 {
		return vs[len(vs)-1].Limits
	}
	return domain.Limits{}
}

// Definition implements usage.Definitions from memory: the declared metric's definition in
// the catalog as last refreshed (for the usage pipeline).
func (c *PlanCatalog) Definition(m usage.Metric) (usage.Definition, bool) {
	return c.Current().Definition(m)
}

var _ usage.Definitions = (*PlanCatalog)(nil)

// Poke asks Run to refresh without waiting for its next tick.
func (c *PlanCatalog) Poke() {
	select {
	case c.refresh <- struct{}{}:
	default:
	}
}

// Run refreshes every interval (and when poked) until ctx ends, so that catalog changes
// applied through another process reach this one.
func (c *PlanCatalog) Run(ctx context.Context, interval time.Duration, onErr func(error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.refresh:
		}
		if _, err := c.Fresh(ctx); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
	}
}

// CatalogApplied is the answer to an apply: the difference, and the catalog stream's
// version after it (unchanged by a dry run or a document that changes nothing).
type CatalogApplied struct {
	Diff           plans.Diff `json:"diff"`
	CatalogVersion int64      `json:"catalog_version"`
	DryRun         bool       `json:"dry_run"`
}

// ApplyCatalogInput is a validated document to apply. Expected, when not domain.Any, is
// the catalog version the caller decided on (a dry run's answer): another apply in between
// makes this one a conflict.
type ApplyCatalogInput struct {
	Definitions plans.Definitions
	DryRun      bool
	Expected    domain.ExpectedVersion
	Meta        domain.Metadata
}

// Apply makes the catalog equal to a document, all or nothing: one append of every
// changed definition to the catalog stream, at the version it decided on, so two applies
// that decide on the same version cannot both win (the loser is a conflict). The same
// document applied again appends nothing.
func (c *PlanCatalog) Apply(ctx context.Context, in ApplyCatalogInput) (CatalogApplied, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cat, err := c.refreshLocked(ctx)
	if err != nil {
		return CatalogApplied{}, err
	}
	at := cat.StreamVersion()
	if in.Expected != domain.Any && int64(in.Expected) != at {
		return CatalogApplied{}, domain.Conflict("the catalog is at version %d, not %d: review the difference again", at, int64(in.Expected))
	}
	diff, events := cat.Decide(in.Definitions)
	out := CatalogApplied{Diff: diff, CatalogVersion: at, DryRun: in.DryRun}
	if in.DryRun || len(events) == 0 {
		return out, nil
	}
	pending := make([]domain.Pending, len(events))
	for i, e := range events {
		pending[i].Event = e
	}
	res, err := c.events.Append(ctx, plans.Partition, plans.StreamID, domain.Exact(at), in.Meta, pending...)
	if errors.Is(err, domain.ErrConcurrency) {
		return CatalogApplied{}, fmt.Errorf("%w: %w", err, domain.Conflict("the catalog changed while this document was applied: apply it again"))
	}
	if err != nil {
		return CatalogApplied{}, fmt.Errorf("append to the plan catalog: %w", err)
	}
	if _, err := c.refreshLocked(ctx); err != nil {
		return CatalogApplied{}, err
	}
	out.CatalogVersion = res.StreamVersion
	return out, nil
}
