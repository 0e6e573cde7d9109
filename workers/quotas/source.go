package quotas

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// Source adapts the event store to the alerts' reads (domain/app.PeriodUsage and
// TenantPlans): the write model's usage totals as domain decimals, and the directory's plan.
type Source struct{ Store *eventstore.Store }

// PeriodUsage implements domain/app.PeriodUsage.
func (s Source) PeriodUsage(ctx context.Context, tenant uuid.UUID, period time.Time) (map[usage.Metric]usage.PeriodTotal, error) {
	snap, err := s.Store.UsageTotals(ctx, tenant, period)
	if err != nil {
		return nil, err
	}
	out := make(map[usage.Metric]usage.PeriodTotal, len(snap.Totals))
	for _, t := range snap.Totals {
		pt, err := usage.ParsePeriodTotal(t.Metric, t.Period, t.Sum, t.Max, t.Last, t.LastKey)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", tenant, err)
		}
		out[pt.Metric] = pt
	}
	return out, nil
}

// TenantPlan implements domain/app.TenantPlans: the plan version the tenant's directory row
// names.
func (s Source) TenantPlan(ctx context.Context, tenant uuid.UUID) (domain.PlanName, int, error) {
	e, err := s.Store.FindTenant(ctx, tenant.String())
	if err != nil {
		return domain.PlanName{}, 0, err
	}
	p, err := domain.ParsePlanName(e.Plan)
	return p, e.PlanVersion, err
}
