package billing

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
)

// UsageLedger is app.UsageLedger over the read models (eventstore's Reconcile).
type UsageLedger struct {
	Store *eventstore.Store
}

// ReconcileUsage reads the lines in one read-only transaction of the tenant.
func (l UsageLedger) ReconcileUsage(ctx context.Context, tenant uuid.UUID, from, to, cutoff time.Time) ([]app.ReconLine, error) {
	var lines []eventstore.ReconLine
	err := l.Store.InTenant(ctx, tenant, true, func(tx *eventstore.Tx) error {
		var err error
		lines, err = tx.Reconcile(ctx, from, to, cutoff)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]app.ReconLine, len(lines))
	for i, line := range lines {
		out[i] = app.ReconLine(line)
	}
	return out, nil
}

// CatchUp waits, at most timeout, until every projection of the tenant includes its last
// event; behind is why not (a timeout, a stopped projection).
func (l UsageLedger) CatchUp(ctx context.Context, tenant uuid.UUID, timeout time.Duration) (behind, err error) {
	head, _, err := l.Store.Head(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return l.Store.WaitFor(ctx, tenant, head, timeout), nil
}
