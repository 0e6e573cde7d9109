package projections

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

// ReadModels adapts the tenant directory and the projections' progress to the ports the
// billing use cases and worker declare (app.CustomerTenants, billing.ReadModels), so that
// neither imports this package; cmd wires it.
type ReadModels struct {
	Store *eventstore.Store
}

// EachTenant calls fn for every tenant in the directory, in id order.
func (r ReadModels) EachTenant(ctx context.Context, fn func(uuid.UUID) error) error {
	return r.Store.EachTenant(ctx, func(t eventstore.TenantEntry) error { return fn(t.ID) })
}

// TenantOfStripeCustomer returns the tenant linked to the Stripe customer; uuid.Nil when
// none is (or, ambiguously, several are).
func (r ReadModels) TenantOfStripeCustomer(ctx context.Context, customerID string) (uuid.UUID, error) {
	t, err := r.Store.FindTenantByCustomer(ctx, customerID)
	if errors.Is(err, eventstore.ErrTenantNotFound) {
		return uuid.Nil, nil
	}
	return t.ID, err
}

// WaitForUsage blocks until the tenant's usage projection includes seq, or timeout.
func (r ReadModels) WaitForUsage(ctx context.Context, tenant uuid.UUID, seq int64, timeout time.Duration) error {
	return r.Store.WaitForProjections(ctx, tenant, seq, timeout, eventstore.ProjectionUsage)
}
