package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/tenant"
)

// PlanTenants lists the tenants whose directory row names a plan (any version): the
// candidates of a migration, each checked against its own stream.
type PlanTenants interface {
	TenantsOnPlan(ctx context.Context, plan domain.PlanName) ([]uuid.UUID, error)
}

// PlanMigration moves the tenants on a plan to another version of it: an explicit
// operator action, since a new plan version never moves anyone by itself.
type PlanMigration struct {
	Events  EventStore
	Plans   PlanSource
	Tenants PlanTenants
	Now     func() time.Time
}

// MigrateInput moves the tenants on Plan (only those on FromVersion, when it is not 0) to
// ToVersion.
type MigrateInput struct {
	Plan        domain.PlanName
	FromVersion int
	ToVersion   int
	Meta        domain.Metadata
}

// Migrated says who moved and who was left where they were, and why.
type Migrated struct {
	Plan      string            `json:"plan"`
	ToVersion int               `json:"to_version"`
	Moved     []uuid.UUID       `json:"moved"`
	Skipped   map[string]string `json:"skipped"`
	// Seqs are the moved tenants' last events (Moved's order): the read models show each
	// move once they reach its seq.
	Seqs []int64 `json:"-"`
}

// Run appends one tenant.plan_changed per tenant it moves, keeping each tenant's billing
// interval. It is idempotent: a tenant already on ToVersion (or on another plan, or
// version than FromVersion) is left alone, so a retried or repeated migration moves no
// one twice. A tenant whose interval the target version does not sell, or that is
// closed, is skipped with the reason.
func (u PlanMigration) Run(ctx context.Context, in MigrateInput) (Migrated, error) {
	cat, err := catalogOf(ctx, u.Plans)
	if err != nil {
		return Migrated{}, err
	}
	to, ok := cat.Version(in.Plan, in.ToVersion)
	if !ok {
		return Migrated{}, domain.NotFound("plan %s has no version %d", in.Plan, in.ToVersion)
	}
	if in.FromVersion != 0 {
		if _, ok := cat.Version(in.Plan, in.FromVersion); !ok {
			return Migrated{}, domain.Invalid("from_version", "plan %s has no version %d", in.Plan, in.FromVersion)
		}
	}
	ids, err := u.Tenants.TenantsOnPlan(ctx, in.Plan)
	if err != nil {
		return Migrated{}, fmt.Errorf("list the tenants on plan %s: %w", in.Plan, err)
	}
	out := Migrated{Plan: in.Plan.String(), ToVersion: in.ToVersion, Moved: []uuid.UUID{}, Skipped: map[string]string{}}
	tenants := Tenants{Events: u.Events, Now: u.Now}
	for _, id := range ids {
		skip := ""
		ch, err := tenants.change(ctx, id, in.Meta, func(t *tenant.Tenant, now time.Time) ([]domain.Event, error) {
			sub := t.Subscription()
			switch {
			case sub.Plan != in.Plan || sub.PlanVersion == in.ToVersion || in.FromVersion != 0 && sub.PlanVersion != in.FromVersion:
				return nil, nil
			case t.Status() == tenant.StatusClosed:
				skip = "closed"
				return nil, nil
			case !to.HasInterval(sub.Interval):
				skip = fmt.Sprintf("version %d is not sold %s", in.ToVersion, sub.Interval)
				return nil, nil
			}
			return t.ChangeSubscription(to, sub.Interval, now)
		})
		if err != nil {
			return out, fmt.Errorf("move tenant %s to %s v%d: %w", id, in.Plan, in.ToVersion, err)
		}
		switch {
		case skip != "":
			out.Skipped[id.String()] = skip
		case ch.Seq != 0:
			out.Moved = append(out.Moved, id)
			out.Seqs = append(out.Seqs, ch.Seq)
		}
	}
	return out, nil
}
