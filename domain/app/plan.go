package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

// Tenants changes a tenant's own stream: its profile and plan (this file) and, for the
// operator, its lifecycle (lifecycle.go).
type Tenants struct {
	Events EventStore
	// Plans is the plan catalog (nil: the default catalog).
	Plans PlanSource
	Now   func() time.Time
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

// ChangePlan moves the tenant to the current version of a plan, billed at interval (zero:
// monthly) (tenant.plan_changed). An unknown or retired plan, or an interval the plan is
// not sold at, is invalid; the plan version and interval the tenant is on is a conflict.
func (u Tenants) ChangePlan(ctx context.Context, id uuid.UUID, key domain.PlanName, interval plans.Interval, meta domain.Metadata) (TenantChange, error) {
	plan, err := joinable(ctx, u.Plans, key)
	if err != nil {
		return TenantChange{}, err
	}
	return u.change(ctx, id, meta, func(t *tenant.Tenant, now time.Time) ([]domain.Event, error) {
		return t.ChangeSubscription(plan, interval.OrMonthly(), now)
	})
}

// PlanSource gives the use cases the plan catalog as of now (PlanCatalog.Fresh).
type PlanSource interface {
	Fresh(ctx context.Context) (*plans.Catalog, error)
}

// catalogOf answers the catalog of src, or the default catalog when there is none.
func catalogOf(ctx context.Context, src PlanSource) (*plans.Catalog, error) {
	if src == nil {
		return plans.Default(domain.DefaultPlans()), nil
	}
	return src.Fresh(ctx)
}

// joinable answers the version of a plan a tenant joins now: its current one. An unknown
// or retired plan is invalid input.
func joinable(ctx context.Context, src PlanSource, key domain.PlanName) (plans.Plan, error) {
	cat, err := catalogOf(ctx, src)
	if err != nil {
		return plans.Plan{}, err
	}
	p, ok := cat.Current(key)
	switch {
	case ok:
		return p, nil
	case cat.Retired(key):
		return plans.Plan{}, domain.Invalid("plan", "plan %s is retired: no tenant can join it", key)
	}
	return plans.Plan{}, domain.Invalid("plan", "there is no plan %s in the catalog", key)
}
