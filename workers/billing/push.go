package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// ProjectionWait bounds how long a push waits for the read models to include every usage
// event the tenant had when the push began.
const ProjectionWait = 30 * time.Second

// UsageTotals is app.UsageTotals over the usage read model: it reads once the read model
// includes every event the tenant has now (waiting at most ProjectionWait).
type UsageTotals struct {
	Store      *eventstore.Store
	ReadModels ReadModels
}

// HourlyUsage reads the tenant's hourly usage of windows starting in [from, to).
func (u UsageTotals) HourlyUsage(ctx context.Context, id uuid.UUID, from, to time.Time) ([]app.UsageWindow, error) {
	head, _, err := u.Store.Head(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := u.ReadModels.WaitForUsage(ctx, id, head, ProjectionWait); err != nil {
		return nil, fmt.Errorf("read models behind seq %d: %w", head, err)
	}
	var points []eventstore.UsagePoint
	err = u.Store.InTenant(ctx, id, true, func(tx *eventstore.Tx) error {
		points, err = tx.UsageSeries(ctx, "", from, to, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]app.UsageWindow, len(points))
	for i, p := range points {
		w, err := usage.ParseWindow(p.Start, p.Sum, p.Max, p.Last, p.LastAt, p.LastSeq, p.LastIdx)
		if err != nil {
			return nil, fmt.Errorf("usage of %s at %s: %w", p.Metric, p.Start.Format(time.RFC3339), err)
		}
		out[i] = app.UsageWindow{Metric: p.Metric, Window: w}
	}
	return out, nil
}
