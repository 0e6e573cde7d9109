package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

// TenantPlans says which plan version a tenant is on (the directory answers it).
type TenantPlans interface {
	TenantPlan(ctx context.Context, tenant uuid.UUID) (plan domain.PlanName, version int, err error)
}

// PeriodUsage reads a tenant's usage of each metric in the quota period (a UTC month)
// starting at period, as the write model keeps it: the totals every usage append updates in
// its own transaction.
type PeriodUsage interface {
	PeriodUsage(ctx context.Context, tenant uuid.UUID, period time.Time) (map[usage.Metric]usage.PeriodTotal, error)
}

// QuotaAlerts records a tenant's soft quota alerts (plans.ThresholdCrossed): when its usage
// of a metric reaches 80 % and 100 % of the plan's soft quota, once per metric, period and
// threshold. The alert's id is derived from those (plans.AlertID), so it is recorded once
// however often, after however many restarts and by however many workers the crossing is
// noticed; checking is idempotent and may be repeated at will.
type QuotaAlerts struct {
	Store   EventStore
	Stored  StoredEventIDs
	Usage   PeriodUsage
	Tenants TenantPlans
	Plans   *PlanCatalog

	mu    sync.Mutex
	known map[uuid.UUID]struct{} // alert ids known to be recorded: a tenant past a threshold is checked on each of its usage messages, and these need no query again
}

// maxKnownAlerts bounds QuotaAlerts' memory of recorded alerts (16 bytes each); beyond it the
// memory starts again, costing one query per tenant past a threshold.
const maxKnownAlerts = 100_000

// alertWorker is the actor of the alerts.
var alertWorker = domain.Metadata{Actor: "quota-alerts"}

// Check records the alerts that the tenant's usage in the quota period starting at period
// calls for and that are not recorded yet, and returns how many it recorded. A tenant whose
// plan has no soft quota costs no read.
func (a *QuotaAlerts) Check(ctx context.Context, tenant uuid.UUID, period time.Time) (int, error) {
	planKey, version, err := a.Tenants.TenantPlan(ctx, tenant)
	if err != nil {
		return 0, err
	}
	cat := a.Plans.Current()
	plan, ok := cat.Version(planKey, version)
	if !ok || !hasSoftQuota(plan) {
		return 0, nil
	}
	totals, err := a.Usage.PeriodUsage(ctx, tenant, period)
	if err != nil {
		return 0, err
	}
	var due []domain.Pending
	for m, q := range plan.Metrics {
		def, ok := cat.Definition(m)
		t, used := totals[m]
		if !ok || !used {
			continue
		}
		u := t.Used(def.Aggregation)
		for _, th := range q.Crossed(u) {
			due = append(due, domain.Pending{ID: plans.AlertID(tenant, m, period, th), Event: plans.ThresholdCrossed{
				Metric: m, Period: period.UTC(), Threshold: th, Included: q.Included, Usage: u.String(), Plan: planKey, PlanVersion: version}})
		}
	}
	return a.record(ctx, tenant, due)
}

// record appends the alerts in due that are not recorded yet, each on its own, and
// remembers those it finds or makes recorded: an alert some other worker recorded meanwhile
// (with the usage it saw) is a conflict of ids, which means it is recorded.
func (a *QuotaAlerts) record(ctx context.Context, tenant uuid.UUID, due []domain.Pending) (int, error) {
	a.mu.Lock()
	fresh := due[:0:0]
	for _, p := range due {
		if _, ok := a.known[p.ID]; !ok {
			fresh = append(fresh, p)
		}
	}
	a.mu.Unlock()
	if len(fresh) == 0 {
		return 0, nil
	}
	ids := make([]uuid.UUID, len(fresh))
	for i, p := range fresh {
		ids[i] = p.ID
	}
	stored, err := a.Stored.StoredEventIDs(ctx, tenant, ids)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range fresh {
		if !stored[p.ID] {
			res, err := a.Store.Append(ctx, tenant, plans.AlertStream, domain.Any, alertWorker, p)
			switch {
			case errors.Is(err, domain.ErrEventIDConflict):
			case err != nil:
				return n, fmt.Errorf("record quota alert %s: %w", p.ID, err)
			case !res.Retried:
				n++
			}
		}
		a.remember(p.ID)
	}
	return n, nil
}

// remember notes that the alert id is recorded.
func (a *QuotaAlerts) remember(id uuid.UUID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.known == nil || len(a.known) >= maxKnownAlerts {
		a.known = map[uuid.UUID]struct{}{}
	}
	a.known[id] = struct{}{}
}

// hasSoftQuota reports whether the plan has a soft quota on some metric.
func hasSoftQuota(p plans.Plan) bool {
	for _, q := range p.Metrics {
		if q.Beyond == plans.BeyondSoft {
			return true
		}
	}
	return false
}

// SoftQuotaPlans lists the plan versions of the catalog that have a soft quota (the tenants
// on them are the ones whose alerts a sweep checks).
func SoftQuotaPlans(cat *plans.Catalog) map[domain.PlanName][]int {
	out := map[domain.PlanName][]int{}
	for _, k := range cat.Keys() {
		for _, p := range cat.Versions(k) {
			if hasSoftQuota(p) {
				out[k] = append(out[k], p.Version)
			}
		}
	}
	return out
}
