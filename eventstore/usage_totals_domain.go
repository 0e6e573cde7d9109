package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// PeriodUsage reads the tenant's usage totals of the quota period starting at period as
// domain values (domain/app.PeriodUsage).
func (d DomainStore) PeriodUsage(ctx context.Context, tenant uuid.UUID, period time.Time) (map[usage.Metric]usage.PeriodTotal, error) {
	snap, err := d.Store.UsageTotals(ctx, tenant, period)
	if err != nil {
		return nil, err
	}
	out := make(map[usage.Metric]usage.PeriodTotal, len(snap.Totals))
	for _, t := range snap.Totals {
		pt, err := t.domain()
		if err != nil {
			return nil, fmt.Errorf("tenant %s usage totals: %w", tenant, err)
		}
		out[pt.Metric] = pt
	}
	return out, nil
}

// domain converts a stored total.
func (t UsageTotal) domain() (usage.PeriodTotal, error) {
	m, err := usage.ParseMetric(t.Metric)
	if err != nil {
		return usage.PeriodTotal{}, err
	}
	pt := usage.PeriodTotal{Metric: m, Period: t.Period, LastKey: t.LastKey}
	for _, f := range []struct {
		s   string
		dst *usage.Decimal
	}{{t.Sum, &pt.Sum}, {t.Max, &pt.Max}, {t.Last, &pt.Last}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = usage.ParseDecimal(f.s); err != nil {
			return usage.PeriodTotal{}, fmt.Errorf("metric %s: %w", t.Metric, err)
		}
	}
	return pt, nil
}

// TenantPlan returns the plan version the tenant's directory row names (domain/app.TenantPlans).
func (d DomainStore) TenantPlan(ctx context.Context, tenant uuid.UUID) (domain.PlanName, int, error) {
	e, err := d.Store.FindTenant(ctx, tenant.String())
	if err != nil {
		return domain.PlanName{}, 0, err
	}
	p, err := domain.ParsePlanName(e.Plan)
	return p, e.PlanVersion, err
}
