package billing

import (
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// Stored event type names. They are part of the storage format: never rename.
const (
	TypeCustomerLinked      = "billing.customer_linked"
	TypeSubscriptionChanged = "billing.subscription_changed"
	TypeStripeEventReceived = "billing.stripe_event_received"
	TypeUsageReportPlanned  = "usage.report_planned"
	TypeUsageReported       = "usage.reported"
)

// CustomerLinked records the Stripe customer and subscription created for the tenant.
type CustomerLinked struct {
	CustomerID         string          `json:"customer_id"`
	SubscriptionID     string          `json:"subscription_id"`
	SubscriptionItemID string          `json:"subscription_item_id"`
	Plan               domain.PlanName `json:"plan"`
	PriceID            string          `json:"price_id"`
}

// EventType implements domain.Event.
func (CustomerLinked) EventType() string { return TypeCustomerLinked }

// SchemaVersion implements domain.Event.
func (CustomerLinked) SchemaVersion() int { return 1 }

// SubscriptionChanged records that the subscription was moved to the tenant's new plan.
type SubscriptionChanged struct {
	SubscriptionItemID string          `json:"subscription_item_id"`
	Plan               domain.PlanName `json:"plan"`
	PriceID            string          `json:"price_id"`
}

// EventType implements domain.Event.
func (SubscriptionChanged) EventType() string { return TypeSubscriptionChanged }

// SchemaVersion implements domain.Event.
func (SubscriptionChanged) SchemaVersion() int { return 1 }

// Outcome is what a Stripe webhook delivery did.
type Outcome string

// The outcomes of a delivery.
const (
	// OutcomeApplied: the delivery changed the tenant (the change is in the same append).
	OutcomeApplied Outcome = "applied"
	// OutcomeNoChange: the delivery was current but the tenant was already where it points.
	OutcomeNoChange Outcome = "no_change"
	// OutcomeStale: a newer delivery was applied before this older one arrived.
	OutcomeStale Outcome = "stale"
	// OutcomeIgnored: a delivery Tenantry does not act on; its Reason says why.
	OutcomeIgnored Outcome = "ignored"
)

// Reason says why a delivery was ignored.
type Reason string

// The reasons a delivery is ignored. A signed delivery is trusted to come from Stripe, not
// to concern the tenant: only the tenant's own linked customer and subscription move it.
const (
	// ReasonTypeNotHandled: an event type Tenantry does not act on.
	ReasonTypeNotHandled Reason = "type_not_handled"
	// ReasonCustomerNotLinked: the object's customer is not the tenant's linked customer
	// (or is no tenant's at all).
	ReasonCustomerNotLinked Reason = "customer_not_linked"
	// ReasonSubscriptionNotLinked: a subscription or invoice event about a subscription
	// other than the tenant's linked one (another subscription of the same customer, or a
	// one-off invoice).
	ReasonSubscriptionNotLinked Reason = "subscription_not_linked"
)

// StripeEventReceived records one webhook delivery Tenantry acted on (or chose not to).
// Its event id is derived from the Stripe event id, so a redelivery is recognised.
type StripeEventReceived struct {
	StripeEventID string    `json:"stripe_event_id"`
	Type          string    `json:"type"`
	Created       time.Time `json:"created"`
	ObjectID      string    `json:"object_id,omitempty"`
	ObjectStatus  string    `json:"object_status,omitempty"`
	// CustomerID and SubscriptionID are what the delivery's object named; Reason says why
	// an ignored delivery was ignored. All three are optional: deliveries recorded before
	// they existed lack them (schema version 1 either way).
	CustomerID     string  `json:"customer_id,omitempty"`
	SubscriptionID string  `json:"subscription_id,omitempty"`
	Outcome        Outcome `json:"outcome"`
	Reason         Reason  `json:"reason,omitempty"`
}

// EventType implements domain.Event.
func (StripeEventReceived) EventType() string { return TypeStripeEventReceived }

// SchemaVersion implements domain.Event.
func (StripeEventReceived) SchemaVersion() int { return 1 }

// UsageReportPlanned records a push before it is sent: revision Revision of the window
// (Metric, WindowStart) carries Quantity units, the delta since the previous revision, in
// Parts billing meter events (see MeterEvents): a delta beyond MaxMeterValue is split, so
// a window of any total is reported whole. Parts is fixed when the push is planned, so a
// resend after a crash sends the very same events; 0 (a push planned before parts
// existed, or one of a single event) means one.
//
// Quantities are exact decimals (a metric may allow decimal places), written as JSON
// numbers; a whole one exactly as the integer it was before decimals. A gauge's push
// (see Ledger.PlanGauge) has WindowStart at its period's start (a UTC month), At set (the
// meter event's timestamp) and, for a gauge billed by its last reading, Aggregation
// "last": Quantity is then the period's value itself, not a delta.
type UsageReportPlanned struct {
	Metric      usage.Metric  `json:"metric"`
	WindowStart time.Time     `json:"window_start"`
	Revision    int           `json:"revision"`
	Quantity    usage.Decimal `json:"quantity"`
	Parts       int           `json:"parts,omitempty"`
	EventName   string        `json:"event_name"`
	CustomerID  string        `json:"customer_id"`
	Identifier  string        `json:"identifier"`
	Aggregation string        `json:"aggregation,omitempty"`
	At          time.Time     `json:"at,omitzero"`
}

// Timestamp is the meter events' timestamp: At when set, otherwise the window's start.
func (p UsageReportPlanned) Timestamp() time.Time {
	if !p.At.IsZero() {
		return p.At
	}
	return p.WindowStart
}

// EventType implements domain.Event.
func (UsageReportPlanned) EventType() string { return TypeUsageReportPlanned }

// SchemaVersion implements domain.Event.
func (UsageReportPlanned) SchemaVersion() int { return 1 }

// UsageReported records that Stripe accepted the planned push with Identifier (every part
// of it): the ledger of what Stripe was told. Total is the window's reported quantity
// including this revision (for a gauge billed by its last reading: this revision's value).
// Both are exact decimals of any size (a whole one written as a JSON integer, as the int64
// fields they once were).
type UsageReported struct {
	Metric      usage.Metric  `json:"metric"`
	WindowStart time.Time     `json:"window_start"`
	Revision    int           `json:"revision"`
	Quantity    usage.Decimal `json:"quantity"`
	Total       usage.Decimal `json:"total"`
	Identifier  string        `json:"identifier"`
}

// EventType implements domain.Event.
func (UsageReported) EventType() string { return TypeUsageReported }

// SchemaVersion implements domain.Event.
func (UsageReported) SchemaVersion() int { return 1 }
