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
