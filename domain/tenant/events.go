package tenant

import (
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
)

// Stored event type names. They are part of the storage format: never rename.
const (
	TypeCreated       = "tenant.created"
	TypeRenamed       = "tenant.renamed"
	TypePlanChanged   = "tenant.plan_changed"
	TypeMarkedPastDue = "tenant.marked_past_due"
	TypeSuspended     = "tenant.suspended"
	TypeReactivated   = "tenant.reactivated"
	TypeClosed        = "tenant.closed"
)

// Created records a new tenant; it is always the first event of the stream. Version 2
// added the plan version, the billing interval and the trial's end (UpcastCreatedV1).
type Created struct {
	TenantID    uuid.UUID       `json:"tenant_id"`
	Name        Name            `json:"name"`
	Slug        domain.Slug     `json:"slug"`
	Plan        domain.PlanName `json:"plan"`
	PlanVersion int             `json:"plan_version"`
	Interval    plans.Interval  `json:"interval"`
	TrialEndsAt *time.Time      `json:"trial_ends_at,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// EventType implements domain.Event.
func (Created) EventType() string { return TypeCreated }

// SchemaVersion implements domain.Event.
func (Created) SchemaVersion() int { return 2 }

// Renamed records a new display name.
type Renamed struct {
	Name Name `json:"name"`
}

// EventType implements domain.Event.
func (Renamed) EventType() string { return TypeRenamed }

// SchemaVersion implements domain.Event.
func (Renamed) SchemaVersion() int { return 1 }

// PlanChanged records a move between plans, plan versions or billing intervals. Version 2
// added the versions and the interval (UpcastPlanChangedV1).
type PlanChanged struct {
	From        domain.PlanName `json:"from"`
	FromVersion int             `json:"from_version"`
	To          domain.PlanName `json:"to"`
	ToVersion   int             `json:"to_version"`
	Interval    plans.Interval  `json:"interval"`
}

// EventType implements domain.Event.
func (PlanChanged) EventType() string { return TypePlanChanged }

// SchemaVersion implements domain.Event.
func (PlanChanged) SchemaVersion() int { return 2 }

// MarkedPastDue records an unpaid invoice: the tenant keeps working until
// GraceEndsAt, after which billing workers suspend it.
type MarkedPastDue struct {
	Since       time.Time `json:"since"`
	GraceEndsAt time.Time `json:"grace_ends_at"`
}

// EventType implements domain.Event.
func (MarkedPastDue) EventType() string { return TypeMarkedPastDue }

// SchemaVersion implements domain.Event.
func (MarkedPastDue) SchemaVersion() int { return 1 }

// Suspended records that the tenant was locked out. Version 2 replaced the
// free-text reason of version 1 with a Reason and an optional Note; see
// UpcastSuspendedV1.
type Suspended struct {
	Reason Reason `json:"reason"`
	Note   string `json:"note"`
}

// EventType implements domain.Event.
func (Suspended) EventType() string { return TypeSuspended }

// SchemaVersion implements domain.Event.
func (Suspended) SchemaVersion() int { return 2 }

// Reactivated records a return to active from past due or suspended.
type Reactivated struct {
	FromStatus Status `json:"from_status"`
}

// EventType implements domain.Event.
func (Reactivated) EventType() string { return TypeReactivated }

// SchemaVersion implements domain.Event.
func (Reactivated) SchemaVersion() int { return 1 }

// Closed records the end of a tenant; closed is terminal.
type Closed struct {
	Note string `json:"note"`
}

// EventType implements domain.Event.
func (Closed) EventType() string { return TypeClosed }

// SchemaVersion implements domain.Event.
func (Closed) SchemaVersion() int { return 1 }
