package tenant

import (
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
)

// Create starts a new tenant on version 1 of plan, billed monthly (the default catalog's
// plans); CreateOn takes the plan version from the catalog.
func Create(id uuid.UUID, name string, slug domain.Slug, plan domain.PlanName, now time.Time) ([]domain.Event, error) {
	return CreateOn(id, name, slug, plans.Plan{Spec: plans.Spec{Key: plan}, Version: 1}, plans.Monthly, now)
}

// CreateOn starts a new tenant on a plan version billed at interval, in trial for the
// plan's trial days if it has any. The caller guarantees the slug is unique (a
// cross-tenant read model) and appends to a new stream.
func CreateOn(id uuid.UUID, name string, slug domain.Slug, plan plans.Plan, interval plans.Interval, now time.Time) ([]domain.Event, error) {
	if id == uuid.Nil {
		return nil, domain.Invalid("id", "tenant id is required")
	}
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	if slug.IsZero() {
		return nil, domain.Invalid("slug", "slug is required")
	}
	if plan.Key.IsZero() || plan.Version < 1 {
		return nil, domain.Invalid("plan", "plan is required")
	}
	if err := checkInterval(plan, interval); err != nil {
		return nil, err
	}
	c := Created{TenantID: id, Name: n, Slug: slug, Plan: plan.Key, PlanVersion: plan.Version, Interval: interval, CreatedAt: now.UTC()}
	if plan.TrialDays > 0 {
		end := now.UTC().AddDate(0, 0, plan.TrialDays)
		c.TrialEndsAt = &end
	}
	return []domain.Event{c}, nil
}

// checkInterval refuses an interval the plan is not sold at (a plan of the default
// catalog built by Create has no intervals listed: monthly).
func checkInterval(plan plans.Plan, interval plans.Interval) error {
	if interval.IsZero() {
		return domain.Invalid("interval", "interval is required")
	}
	if len(plan.Intervals) == 0 && interval == plans.Monthly || plan.HasInterval(interval) {
		return nil
	}
	return domain.Invalid("interval", "plan %s is not sold %s", plan.Key, interval)
}

// changeable is the guard every command starts with: the tenant must exist
// and must not be closed, because closed is terminal.
func (t *Tenant) changeable() error {
	if t.version == 0 {
		return domain.NotFound("tenant not found")
	}
	if t.status == StatusClosed {
		return domain.Conflict("tenant is closed; a closed tenant cannot be changed")
	}
	return nil
}

// Rename sets a new display name. Renaming to the current name is a no-op
// and returns no events, so a repeated PATCH is harmless.
func (t *Tenant) Rename(name string, now time.Time) ([]domain.Event, error) {
	if err := t.changeable(); err != nil {
		return nil, err
	}
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	if n == t.name {
		return nil, nil
	}
	return []domain.Event{Renamed{Name: n}}, nil
}

// ChangePlan moves the tenant to version 1 of another plan, billed monthly (the default
// catalog's plans); ChangeSubscription takes the plan version from the catalog.
func (t *Tenant) ChangePlan(plan domain.PlanName, now time.Time) ([]domain.Event, error) {
	return t.ChangeSubscription(plans.Plan{Spec: plans.Spec{Key: plan}, Version: 1}, plans.Monthly, now)
}

// ChangeSubscription moves the tenant to a plan version billed at interval: another plan,
// another version of its plan, or another interval. Its current plan version and
// interval is a conflict. A suspended tenant may change (as it may pay); the change does
// not reactivate it.
func (t *Tenant) ChangeSubscription(plan plans.Plan, interval plans.Interval, now time.Time) ([]domain.Event, error) {
	if err := t.changeable(); err != nil {
		return nil, err
	}
	if plan.Key.IsZero() || plan.Version < 1 {
		return nil, domain.Invalid("plan", "plan is required")
	}
	if err := checkInterval(plan, interval); err != nil {
		return nil, err
	}
	if plan.Key == t.plan && plan.Version == t.planVersion && interval == t.interval {
		return nil, domain.Conflict("tenant is already on the %s plan (version %d, %s)", plan.Key, plan.Version, interval)
	}
	return []domain.Event{PlanChanged{From: t.plan, FromVersion: t.planVersion, To: plan.Key, ToVersion: plan.Version, Interval: interval}}, nil
}

// MarkPastDue records an overdue payment on an active tenant, with the end of
// the grace period after which it may be suspended.
func (t *Tenant) MarkPastDue(since, graceEndsAt time.Time, now time.Time) ([]domain.Event, error) {
	if err := t.changeable(); err != nil {
		return nil, err
	}
	if since.IsZero() {
		return nil, domain.Invalid("since", "since is required")
	}
	if !graceEndsAt.After(since) {
		return nil, domain.Invalid("grace_ends_at", "grace period must end after the payment became overdue")
	}
	if t.status != StatusActive {
		return nil, domain.Conflict("only an active tenant can be marked past due; tenant is %s", t.status)
	}
	return []domain.Event{MarkedPastDue{Since: since.UTC(), GraceEndsAt: graceEndsAt.UTC()}}, nil
}

// Suspend locks an active or past-due tenant out, for reason with an
// optional note of up to 500 characters.
func (t *Tenant) Suspend(reason Reason, note string, now time.Time) ([]domain.Event, error) {
	if err := t.changeable(); err != nil {
		return nil, err
	}
	if reason.IsZero() {
		return nil, domain.Invalid("reason", "reason is required")
	}
	if err := checkNote(note); err != nil {
		return nil, err
	}
	if t.status == StatusSuspended {
		return nil, domain.Conflict("tenant is already suspended")
	}
	return []domain.Event{Suspended{Reason: reason, Note: note}}, nil
}

// Reactivate returns a suspended or past-due tenant to active.
func (t *Tenant) Reactivate(now time.Time) ([]domain.Event, error) {
	if err := t.changeable(); err != nil {
		return nil, err
	}
	if t.status == StatusActive {
		return nil, domain.Conflict("tenant is already active")
	}
	return []domain.Event{Reactivated{FromStatus: t.status}}, nil
}

// Close ends the tenant for good, from any status but closed, with an
// optional note of up to 500 characters.
func (t *Tenant) Close(note string, now time.Time) ([]domain.Event, error) {
	if err := t.changeable(); err != nil {
		return nil, err
	}
	if err := checkNote(note); err != nil {
		return nil, err
	}
	return []domain.Event{Closed{Note: note}}, nil
}
