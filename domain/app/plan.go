package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/tenant"
)

// Tenants changes a tenant's own stream: its profile and plan (this file) and, for the
// operator, its lifecycle (lifecycle.go).
type Tenants struct {
	Events EventStore
	Now    func() time.Time
}

// TenantChange is the tenant as a command left it and where its events landed (Seq 0: none
// were written, the command changed nothing).
type TenantChange struct {
	Tenant *tenant.Tenant
	Seq    int64
}

// change runs decide against the tenant's stream.
func (u Tenants) change(ctx context.Context, id uuid.UUID, meta domain.Metadata, decide func(*tenant.Tenant, time.Time) ([]domain.Event, error)) (TenantChange, error) {
	cmd := Command[*tenant.Tenant]{Store: u.Events, Tenant: id, Stream: tenant.StreamID, New: func() *tenant.Tenant { return &tenant.Tenant{} }, Metadata: meta}
	t, res, err := cmd.Run(ctx, func(t *tenant.Tenant) ([]domain.Event, error) { return decide(t, u.Now().UTC()) })
	if err != nil {
		return TenantChange{}, err
	}
	return TenantChange{Tenant: t, Seq: res.LastSeq}, nil
}

// Rename gives the tenant a new display name.
func (u Tenants) Rename(ctx context.Context, id uuid.UUID, name string, meta domain.Metadata) (TenantChange, error) {
	return u.change(ctx, id, meta, func(t *tenant.Tenant, now time.Time) ([]domain.Event, error) { return t.Rename(name, now) })
}

// ChangePlan moves the tenant to another plan (tenant.plan_changed); its current plan, or
// a suspended tenant, is a conflict.
func (u Tenants) ChangePlan(ctx context.Context, id uuid.UUID, plan domain.PlanName, meta domain.Metadata) (TenantChange, error) {
	return u.change(ctx, id, meta, func(t *tenant.Tenant, now time.Time) ([]domain.Event, error) { return t.ChangePlan(plan, now) })
}
