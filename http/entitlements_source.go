package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/entitlements"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// UsageTotalsSource adapts the event store to app.UsageTotalsSource: the write model's usage
// totals (tenantry.usage_totals) as the domain's decimals, the tenant's head and its watch.
type UsageTotalsSource struct{ Store *eventstore.Store }

var _ app.UsageTotalsSource = UsageTotalsSource{}

// UsageTotals implements app.UsageTotalsSource.
func (s UsageTotalsSource) UsageTotals(ctx context.Context, tenant uuid.UUID, period time.Time) (int64, entitlements.Totals, error) {
	snap, err := s.Store.UsageTotals(ctx, tenant, period)
	if err != nil {
		return 0, nil, err
	}
	out := make(entitlements.Totals, len(snap.Totals))
	for _, r := range snap.Totals {
		pt, err := usage.ParsePeriodTotal(r.Metric, r.Period, r.Sum, r.Max, r.Last, r.LastKey)
		if err != nil {
			return 0, nil, fmt.Errorf("tenant %s: %w", tenant, err)
		}
		out[pt.Metric] = pt
	}
	return snap.Head, out, nil
}

// Head implements app.UsageTotalsSource.
func (s UsageTotalsSource) Head(ctx context.Context, tenant uuid.UUID) (int64, error) {
	head, _, err := s.Store.Head(ctx, tenant)
	return head, err
}

// WatchTenant implements app.UsageTotalsSource.
func (s UsageTotalsSource) WatchTenant(tenant uuid.UUID, afterSeq int64) app.TenantWatch {
	return s.Store.WatchTenant(tenant, afterSeq)
}
