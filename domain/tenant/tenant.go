package tenant

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
)

// Tenant is the state folded from one tenant's stream. The zero value is a
// tenant that has not been created: every command on it is not found.
type Tenant struct {
	id            uuid.UUID
	name          Name
	slug          domain.Slug
	plan          domain.PlanName
	planVersion   int
	interval      plans.Interval
	trialEndsAt   time.Time
	status        Status
	createdAt     time.Time
	suspendReason Reason
	suspendNote   string
	pastDueSince  time.Time
	graceEndsAt   time.Time
	version       int
}

// Replay rebuilds a tenant from its events, oldest first.
func Replay(events []domain.Event) (*Tenant, error) {
	t := &Tenant{}
	for i, e := range events {
		if err := t.Apply(e); err != nil {
			return nil, fmt.Errorf("replay tenant event %d: %w", i+1, err)
		}
	}
	return t, nil
}

// Apply folds one event into the state. Events are facts, so Apply does not
// re-check command rules; it only refuses streams that cannot be folded: an
// unknown event, anything before tenant.created, or a second tenant.created.
func (t *Tenant) Apply(e domain.Event) error {
	ev := domain.Deref(e)
	if _, isCreated := ev.(Created); !isCreated && t.version == 0 && isTenantEvent(ev) {
		return fmt.Errorf("apply %s: tenant not created yet", ev.EventType())
	}
	switch ev := ev.(type) {
	case Created:
		if t.version != 0 {
			return fmt.Errorf("apply %s: tenant %s already created", TypeCreated, t.id)
		}
		t.id, t.name, t.slug, t.plan = ev.TenantID, ev.Name, ev.Slug, ev.Plan
		t.planVersion, t.interval = orVersion1(ev.PlanVersion), ev.Interval.OrMonthly()
		if ev.TrialEndsAt != nil {
			t.trialEndsAt = *ev.TrialEndsAt
		}
		t.status, t.createdAt = StatusActive, ev.CreatedAt
	case Renamed:
		t.name = ev.Name
	case PlanChanged:
		t.plan, t.planVersion, t.interval = ev.To, orVersion1(ev.ToVersion), ev.Interval.OrMonthly()
	case MarkedPastDue:
		t.status = StatusPastDue
		t.pastDueSince, t.graceEndsAt = ev.Since, ev.GraceEndsAt
	case Suspended:
		t.status = StatusSuspended
		t.suspendReason, t.suspendNote = ev.Reason, ev.Note
		t.pastDueSince, t.graceEndsAt = time.Time{}, time.Time{}
	case Reactivated:
		t.status = StatusActive
		t.suspendReason, t.suspendNote = Reason{}, ""
		t.pastDueSince, t.graceEndsAt = time.Time{}, time.Time{}
	case Closed:
		t.status = StatusClosed
		t.suspendReason, t.suspendNote = Reason{}, ""
		t.pastDueSince, t.graceEndsAt = time.Time{}, time.Time{}
	default:
		return fmt.Errorf("apply to tenant: unknown event %T", e)
	}
	t.version++
	return nil
}

func isTenantEvent(e domain.Event) bool {
	switch e.(type) {
	case Renamed, PlanChanged, MarkedPastDue, Suspended, Reactivated, Closed:
		return true
	}
	return false
}

// ID returns the tenant id.
func (t *Tenant) ID() uuid.UUID { return t.id }

// Name returns the display name.
func (t *Tenant) Name() Name { return t.name }

// Slug returns the tenant's unique handle.
func (t *Tenant) Slug() domain.Slug { return t.slug }

// Plan returns the current plan.
func (t *Tenant) Plan() domain.PlanName { return t.plan }

// Subscription returns the plan version and billing interval the tenant is on, with the
// end of its trial (zero: no trial).
func (t *Tenant) Subscription() Subscription {
	return Subscription{Plan: t.plan, PlanVersion: t.planVersion, Interval: t.interval, TrialEndsAt: t.trialEndsAt}
}

// Status returns the lifecycle status; zero when not created.
func (t *Tenant) Status() Status { return t.status }

// CreatedAt returns when the tenant was created.
func (t *Tenant) CreatedAt() time.Time { return t.createdAt }

// SuspendReason returns why the tenant is suspended; zero unless suspended.
func (t *Tenant) SuspendReason() Reason { return t.suspendReason }

// SuspendNote returns the note given with the suspension; empty unless suspended.
func (t *Tenant) SuspendNote() string { return t.suspendNote }

// PastDueSince returns when payment became overdue; zero unless past due.
func (t *Tenant) PastDueSince() time.Time { return t.pastDueSince }

// GraceEndsAt returns when a past-due tenant becomes eligible for
// suspension; zero unless past due.
func (t *Tenant) GraceEndsAt() time.Time { return t.graceEndsAt }

// Version returns how many events have been applied, which is the expected
// stream version for the next append.
func (t *Tenant) Version() int { return t.version }

// Subscription is what a tenant is on: a plan version, billed at an interval, and the end
// of the trial it started with (zero: none).
type Subscription struct {
	Plan        domain.PlanName
	PlanVersion int
	Interval    plans.Interval
	TrialEndsAt time.Time
}

// Events written before the plan catalog decoded in memory (not through the upcasters,
// e.g. a test's literal) carry no version or interval: version 1, monthly, as then.
func orVersion1(v int) int {
	if v < 1 {
		return 1
	}
	return v
}
