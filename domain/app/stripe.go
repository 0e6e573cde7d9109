package app

import (
	"context"
	"github.com/tenantry/tenantry/domain/usage"
	"time"

	"github.com/google/uuid"
)

// Stripe is what the billing use cases ask of Stripe, in plain Go types; the stripe-go
// adapter (workers/billing) implements it, rate-limited and retried. Every call carries an
// idempotency key derived from what it does, so a retry (by the adapter, or by a later run
// after a crash) never does the work twice: never a second customer, subscription, plan
// move or usage record.
type Stripe interface {
	// CreateCustomer creates the tenant's customer and returns its id.
	CreateCustomer(ctx context.Context, c StripeCustomer) (string, error)
	// CreateSubscription subscribes a customer to a price.
	CreateSubscription(ctx context.Context, s StripeSubscription) (StripeSubscriptionRef, error)
	// ChangeSubscriptionPrice moves a subscription's item to another price, prorated.
	ChangeSubscriptionPrice(ctx context.Context, c StripePriceChange) (StripeSubscriptionRef, error)
	// SendMeterEvent reports usage to a billing meter.
	SendMeterEvent(ctx context.Context, e StripeMeterEvent) error
	// EnsurePrice returns the id of the recurring price of a plan version's interval,
	// creating its product and price the first time (found again by its lookup key).
	EnsurePrice(ctx context.Context, p StripePrice) (string, error)
}

// StripePrice is the recurring price of one interval of a plan version that names no
// Stripe price: Amount minor units of Currency every Interval ("month" or "year").
// LookupKey names it for good (tenantry_<plan>_v<version>_<interval>); the idempotency
// keys derive from it too.
type StripePrice struct {
	LookupKey   string
	ProductName string
	Amount      int64
	Currency    string
	Interval    string
}

// StripeCustomer is a customer to create for a tenant.
type StripeCustomer struct {
	TenantID       uuid.UUID
	Name           string
	Slug           string
	IdempotencyKey string
}

// StripeSubscription is a subscription to create.
type StripeSubscription struct {
	TenantID   uuid.UUID
	CustomerID string
	PriceID    string
	// TrialEnd, when not zero, starts the subscription in trial until then.
	TrialEnd       time.Time
	IdempotencyKey string
}

// StripePriceChange moves a subscription item to a price.
type StripePriceChange struct {
	SubscriptionID string
	ItemID         string
	PriceID        string
	IdempotencyKey string
}

// StripeSubscriptionRef names a subscription and its (first) item; ItemID is empty when
// Stripe answered without items.
type StripeSubscriptionRef struct {
	ID     string
	ItemID string
}

// StripeMeterEvent is one usage report: Value of a meter's event for a customer at
// Timestamp, deduplicated by Stripe on Identifier.
type StripeMeterEvent struct {
	EventName      string
	Identifier     string
	CustomerID     string
	Value          usage.Decimal // sent as its plain decimal text ("12", "1.25")
	Timestamp      time.Time
	IdempotencyKey string
}
