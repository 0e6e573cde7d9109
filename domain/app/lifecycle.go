package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/tenant"
)

// The operator's lifecycle decisions on a tenant. (Payment-driven suspension and
// reactivation are the billing steps' own.)

// Suspend suspends the tenant for reason, with an optional note.
func (u Tenants) Suspend(ctx context.Context, id uuid.UUID, reason tenant.Reason, note string, meta domain.Metadata) (TenantChange, error) {
	return u.change(ctx, id, meta, func(t *tenant.Tenant, now time.Time) ([]domain.Event, error) { return t.Suspend(reason, note, now) })
}

// Reactivate lifts a suspension.
func (u Tenants) Reactivate(ctx context.Context, id uuid.UUID, meta domain.Metadata) (TenantChange, error) {
	return u.change(ctx, id, meta, func(t *tenant.Tenant, now time.Time) ([]domain.Event, error) { return t.Reactivate(now) })
}

// Close closes the tenant for good, with an optional note.
func (u Tenants) Close(ctx context.Context, id uuid.UUID, note string, meta domain.Metadata) (TenantChange, error) {
	return u.change(ctx, id, meta, func(t *tenant.Tenant, now time.Time) ([]domain.Event, error) { return t.Close(note, now) })
}
