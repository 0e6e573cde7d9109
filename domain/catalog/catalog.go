// Package catalog lists every event type the domain writes and every
// upcaster for older versions, so the event store can build its registry
// without knowing the aggregates.
package catalog

import (
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
)

// Spec describes the current version of one stored event type. New returns
// a pointer to a zero event, ready to be the target of json.Unmarshal; the
// aggregates' Apply accepts such pointers.
type Spec struct {
	Type    string
	Version int
	New     func() domain.Event
}

// Upcaster converts a payload of Type at FromVersion to FromVersion+1. The
// registry chains upcasters until the payload reaches the Spec's Version.
type Upcaster struct {
	Type        string
	FromVersion int
	Fn          func([]byte) ([]byte, error)
}

// Events lists every current event type and version.
func Events() []Spec {
	return []Spec{
		spec[tenant.Created](),
		spec[tenant.Renamed](),
		spec[tenant.PlanChanged](),
		spec[tenant.MarkedPastDue](),
		spec[tenant.Suspended](),
		spec[tenant.Reactivated](),
		spec[tenant.Closed](),
		spec[membership.Joined](),
		spec[membership.Invited](),
		spec[membership.InvitationRevoked](),
		spec[membership.RoleChanged](),
		spec[membership.Removed](),
		spec[membership.APIKeyCreated](),
		spec[membership.APIKeyRevoked](),
		spec[usage.Recorded](),
		spec[usage.BatchRecorded](),
		spec[billing.CustomerLinked](),
		spec[billing.SubscriptionChanged](),
		spec[billing.StripeEventReceived](),
		spec[billing.UsageReportPlanned](),
		spec[billing.UsageReported](),
		spec[plans.PlanDefined](),
		spec[plans.PlanRetired](),
		spec[plans.MetricDefined](),
		spec[plans.MetricRetired](),
		spec[plans.ThresholdCrossed](),
	}
}

// Upcasters lists every conversion from an older event version.
func Upcasters() []Upcaster {
	return []Upcaster{
		{Type: tenant.TypeCreated, FromVersion: 1, Fn: tenant.UpcastCreatedV1},
		{Type: tenant.TypePlanChanged, FromVersion: 1, Fn: tenant.UpcastPlanChangedV1},
		{Type: tenant.TypeSuspended, FromVersion: 1, Fn: tenant.UpcastSuspendedV1},
		{Type: membership.TypeInvitationRevoked, FromVersion: 1, Fn: membership.UpcastInvitationRevokedV1},
	}
}

// spec reads the type and version from the event itself, so the catalog can
// never disagree with the event's own methods.
func spec[T any, PT interface {
	*T
	domain.Event
}]() Spec {
	probe := PT(new(T))
	return Spec{
		Type:    probe.EventType(),
		Version: probe.SchemaVersion(),
		New:     func() domain.Event { return PT(new(T)) },
	}
}
