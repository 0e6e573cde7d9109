package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
)

// DefaultSettle is how long after a usage window ends its usage is first pushed, unless
// configured otherwise.
const DefaultSettle = 5 * time.Minute

// UsageWindow is one metric's recorded usage in one hour: an exact total of any size (the
// read model sums without bound; a total beyond one meter event's value is reported in
// parts), with the window's highest and last readings (which gauges are billed by).
type UsageWindow struct {
	Metric string
	usage.Window
}

// UsageTotals reads recorded usage (the usage read model).
type UsageTotals interface {
	// HourlyUsage returns the tenant's usage per metric and hour for windows starting in
	// [from, to), read once the read model includes every event the tenant had when the
	// call began.
	HourlyUsage(ctx context.Context, tenant uuid.UUID, from, to time.Time) ([]UsageWindow, error)
}

// BillingConfig is the billing steps' settings, fixed at construction.
type BillingConfig struct {
	// Prices maps each plan of the default catalog to the Stripe price its subscription
	// uses when its plan version names none (TENANTRY_STRIPE_PRICES).
	Prices map[domain.PlanName]string
	// Plans is the plan catalog (nil: the default catalog): a tenant's subscription bills
	// the price of its plan version's interval.
	Plans PlanSource
	// Meters maps a usage metric to the event name of its Stripe billing meter; a metric
	// not listed uses its own name.
	Meters map[string]string
	// Settle is how long after a window ends its usage is first pushed (0: at once).
	Settle time.Duration
	// Definitions declares metrics; a gauge is pushed per billing period (billing.Period) by
	// its aggregation (billing.Ledger.PlanGauge). nil: every metric is a counter.
	Definitions usage.Definitions
}

// BillingCycle is the billing worker's steps for one tenant: link it to Stripe or move its
// subscription to its plan, push its unreported usage, suspend it when the grace period
// after a failed payment has ended. Each decision is a domain/billing or domain/tenant
// event, so what Stripe was told is in the tenant's own streams. A caller runs one tenant's
// steps at a time (the worker holds a per-tenant lock); every append also checks the stream
// version it decided on.
type BillingCycle struct {
	store  EventStore
	stripe Stripe
	usage  UsageTotals
	clock  Clock
	log    *slog.Logger
	cfg    BillingConfig
	prices sync.Map // lookup key → the Stripe price EnsurePrice answered
}

// NewBillingCycle builds the billing steps; a nil clock is the system's, a nil logger
// discards.
func NewBillingCycle(store EventStore, stripe Stripe, usage UsageTotals, clock Clock, log *slog.Logger, cfg BillingConfig) (*BillingCycle, error) {
	if store == nil || stripe == nil || usage == nil {
		return nil, errors.New("billing cycle: an event store, Stripe and usage totals are required")
	}
	if len(cfg.Prices) == 0 {
		return nil, errors.New("billing cycle: no Stripe prices configured")
	}
	if cfg.Settle < 0 {
		return nil, fmt.Errorf("billing cycle: settle %s is negative", cfg.Settle)
	}
	if clock == nil {
		clock = SystemClock
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &BillingCycle{store: store, stripe: stripe, usage: usage, clock: clock, log: log, cfg: cfg}, nil
}

// billingWorker is the actor of what the billing steps append.
var billingWorker = domain.Metadata{Actor: "billing-worker"}

func (b *BillingCycle) now() time.Time { return b.clock.Now().UTC() }

// meterEventName returns the meter event name of a metric.
func (b *BillingCycle) meterEventName(metric string) string {
	if n, ok := b.cfg.Meters[metric]; ok {
		return n
	}
	return metric
}

func newTenant() *tenant.Tenant { return &tenant.Tenant{} }

// appendAt appends events to one stream at the version decided on.
func (b *BillingCycle) appendAt(ctx context.Context, id uuid.UUID, stream string, version int64, events ...domain.Event) error {
	pending := make([]domain.Pending, len(events))
	for i, e := range events {
		pending[i].Event = e
	}
	_, err := b.store.Append(ctx, id, stream, domain.Exact(version), billingWorker, pending...)
	return err
}

// Provision links the tenant to a Stripe customer and subscription, or moves the
// subscription to the tenant's current plan, and returns 1 when it did either; nothing
// when both are done or the tenant is closed. The customer and the subscription are
// created under idempotency keys derived from the tenant and the action, so a crash after
// Stripe answered and before billing.customer_linked was recorded ends, on the next run,
// with the same customer and subscription rather than new ones.
func (b *BillingCycle) Provision(ctx context.Context, id uuid.UUID) (int, error) {
	t, _, err := Load(ctx, b.store, id, tenant.StreamID, newTenant)
	if err != nil {
		return 0, err
	}
	if t.Version() == 0 || t.Status() == tenant.StatusClosed {
		return 0, nil
	}
	acct, version, err := Load(ctx, b.store, id, dbilling.AccountStreamID, dbilling.NewAccount)
	if err != nil {
		return 0, err
	}
	price, err := b.priceOf(ctx, t.Subscription())
	if err != nil {
		return 0, err
	}
	if !acct.Linked() {
		cus, err := b.stripe.CreateCustomer(ctx, StripeCustomer{TenantID: id, Name: t.Name().String(), Slug: t.Slug().String(),
			IdempotencyKey: "tenantry:customer:" + id.String()})
		if err != nil {
			return 0, fmt.Errorf("create Stripe customer: %w", err)
		}
		ss := StripeSubscription{TenantID: id, CustomerID: cus, PriceID: price, IdempotencyKey: "tenantry:subscription:" + id.String()}
		if end := t.Subscription().TrialEndsAt; end.After(b.now()) {
			ss.TrialEnd = end
		}
		sub, err := b.stripe.CreateSubscription(ctx, ss)
		if err != nil {
			return 0, fmt.Errorf("create Stripe subscription: %w", err)
		}
		events, err := acct.Link(cus, sub.ID, sub.ItemID, t.Plan(), price)
		if err != nil {
			return 0, err
		}
		if err := b.appendAt(ctx, id, dbilling.AccountStreamID, version, events...); err != nil {
			return 0, fmt.Errorf("record billing.customer_linked: %w", err)
		}
		b.log.InfoContext(ctx, "tenant linked to Stripe", "stripe_customer_id", cus, "stripe_subscription_id", sub.ID)
		return 1, nil
	}
	if acct.Plan() == t.Plan() && acct.PriceID() == price {
		return 0, nil
	}
	sub, err := b.stripe.ChangeSubscriptionPrice(ctx, StripePriceChange{SubscriptionID: acct.SubscriptionID(),
		ItemID: acct.SubscriptionItemID(), PriceID: price,
		// One key per plan change: the tenant stream's version identifies it.
		IdempotencyKey: "tenantry:subscription-plan:" + id.String() + ":v" + strconv.Itoa(t.Version())})
	if err != nil {
		return 0, fmt.Errorf("move Stripe subscription to plan %s: %w", t.Plan(), err)
	}
	events, err := acct.ChangePlan(sub.ItemID, t.Plan(), price)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	if err := b.appendAt(ctx, id, dbilling.AccountStreamID, version, events...); err != nil {
		return 0, fmt.Errorf("record billing.subscription_changed: %w", err)
	}
	b.log.InfoContext(ctx, "Stripe subscription moved to the tenant's plan", "plan", t.Plan().String())
	return 1, nil
}

// priceOf is the Stripe price of a tenant's plan version at its interval: the price the
// version names; else one the worker creates for its amount (once: EnsurePrice finds it by
// its lookup key); else the price configured for the plan (TENANTRY_STRIPE_PRICES).
func (b *BillingCycle) priceOf(ctx context.Context, sub tenant.Subscription) (string, error) {
	cat, err := catalogOf(ctx, b.cfg.Plans)
	if err != nil {
		return "", err
	}
	if p, ok := cat.Version(sub.Plan, sub.PlanVersion); ok {
		pr := p.Intervals[sub.Interval]
		switch {
		case pr.StripePrice != "":
			return pr.StripePrice, nil
		case pr.Currency != "":
			key := fmt.Sprintf("tenantry_%s_v%d_%s", sub.Plan, sub.PlanVersion, sub.Interval)
			if id, ok := b.prices.Load(key); ok {
				return id.(string), nil
			}
			every := "month"
			if sub.Interval == plans.Yearly {
				every = "year"
			}
			id, err := b.stripe.EnsurePrice(ctx, StripePrice{LookupKey: key, ProductName: p.Name, Amount: pr.Amount, Currency: pr.Currency, Interval: every})
			if err != nil {
				return "", fmt.Errorf("create the Stripe price of plan %s v%d %s: %w", sub.Plan, sub.PlanVersion, sub.Interval, err)
			}
			b.prices.Store(key, id)
			return id, nil
		}
	}
	price, ok := b.cfg.Prices[sub.Plan]
	if !ok {
		return "", fmt.Errorf("no Stripe price for plan %s v%d %s: the catalog names none and none is configured", sub.Plan, sub.PlanVersion, sub.Interval)
	}
	return price, nil
}

// Dunning suspends the tenant (reason payment_failed) when it is past due and its grace
// period has ended, and returns how many events that decided (0 or 1). A tenant the rule
// does not apply to (a domain error: not past due, closed) is no failure.
func (b *BillingCycle) Dunning(ctx context.Context, id uuid.UUID) (int, error) {
	now := b.now()
	cmd := Command[*tenant.Tenant]{Store: b.store, Tenant: id, Stream: tenant.StreamID, New: newTenant,
		Metadata: domain.Metadata{Actor: billingWorker.Actor, CausationID: "dunning"}}
	var decided int
	_, _, err := cmd.Run(ctx, func(t *tenant.Tenant) ([]domain.Event, error) {
		events, err := dbilling.GraceEnded(t, now)
		decided = len(events)
		return events, err
	})
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return 0, nil
		}
		return 0, err
	}
	if decided > 0 {
		b.log.WarnContext(ctx, "tenant suspended: grace period after a failed payment ended")
	}
	return decided, nil
}
