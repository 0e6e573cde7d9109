package billing

import (
	"fmt"
	"strings"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/tenant"
)

// Account is the state folded from a tenant's billing stream.
type Account struct {
	customerID     string
	subscriptionID string
	itemID         string
	priceID        string
	plan           domain.PlanName
	// statusAt is the creation time of the newest Stripe delivery about payment or
	// subscription status that was acted on: an older delivery arriving later is stale.
	statusAt time.Time
	version  int
}

// NewAccount returns the state of a tenant with no billing events.
func NewAccount() *Account { return &Account{} }

// Apply folds one event into the state.
func (a *Account) Apply(e domain.Event) error {
	switch ev := domain.Deref(e).(type) {
	case CustomerLinked:
		a.customerID, a.subscriptionID, a.itemID = ev.CustomerID, ev.SubscriptionID, ev.SubscriptionItemID
		a.plan, a.priceID = ev.Plan, ev.PriceID
	case SubscriptionChanged:
		a.itemID, a.plan, a.priceID = ev.SubscriptionItemID, ev.Plan, ev.PriceID
	case StripeEventReceived:
		if (ev.Outcome == OutcomeApplied || ev.Outcome == OutcomeNoChange) && ev.Created.After(a.statusAt) {
			a.statusAt = ev.Created
		}
	default:
		return fmt.Errorf("apply to billing account: unknown event %T", e)
	}
	a.version++
	return nil
}

// Linked reports whether the tenant has a Stripe customer and subscription.
func (a *Account) Linked() bool { return a.customerID != "" }

// CustomerID returns the Stripe customer id; empty until linked.
func (a *Account) CustomerID() string { return a.customerID }

// SubscriptionID returns the Stripe subscription id; empty until linked.
func (a *Account) SubscriptionID() string { return a.subscriptionID }

// SubscriptionItemID returns the id of the subscription's plan item.
func (a *Account) SubscriptionItemID() string { return a.itemID }

// Plan returns the plan the subscription is on; zero until linked.
func (a *Account) Plan() domain.PlanName { return a.plan }

// PriceID returns the Stripe price the subscription bills; empty until linked.
func (a *Account) PriceID() string { return a.priceID }

// Version returns how many events have been applied.
func (a *Account) Version() int { return a.version }

// Link records the customer and subscription created for a tenant. Linking twice is a
// conflict: the provisioning worker creates each once, under idempotency keys.
func (a *Account) Link(customerID, subscriptionID, itemID string, plan domain.PlanName, priceID string) ([]domain.Event, error) {
	if customerID == "" || subscriptionID == "" || itemID == "" || priceID == "" || plan.IsZero() {
		return nil, domain.Invalid("customer_id", "customer, subscription, item, plan and price are all required")
	}
	if a.Linked() {
		return nil, domain.Conflict("the tenant is already linked to Stripe customer %s", a.customerID)
	}
	return []domain.Event{CustomerLinked{CustomerID: customerID, SubscriptionID: subscriptionID,
		SubscriptionItemID: itemID, Plan: plan, PriceID: priceID}}, nil
}

// ChangePlan records that the subscription now bills plan at priceID; no events when it
// already does.
func (a *Account) ChangePlan(itemID string, plan domain.PlanName, priceID string) ([]domain.Event, error) {
	if !a.Linked() {
		return nil, domain.Conflict("the tenant is not linked to Stripe yet")
	}
	if plan == a.plan && priceID == a.priceID && itemID == a.itemID {
		return nil, nil
	}
	return []domain.Event{SubscriptionChanged{SubscriptionItemID: itemID, Plan: plan, PriceID: priceID}}, nil
}

// Signal is the part of a Stripe event that billing decides on.
type Signal struct {
	EventID      string
	Type         string
	Created      time.Time
	ObjectID     string
	ObjectStatus string
	// CustomerID is the object's customer; SubscriptionID the subscription it concerns
	// (a subscription's own id, an invoice's subscription), empty when it names none.
	CustomerID     string
	SubscriptionID string
}

// concernsSubscription says whether events of type typ are about one subscription, which
// must then be the tenant's linked one.
func concernsSubscription(typ string) bool {
	return strings.HasPrefix(typ, "customer.subscription.") || strings.HasPrefix(typ, "invoice.")
}

// The Stripe event types Tenantry acts on.
const (
	StripeInvoicePaymentFailed = "invoice.payment_failed"
	StripeInvoicePaid          = "invoice.paid"
	StripeSubscriptionUpdated  = "customer.subscription.updated"
	StripeSubscriptionDeleted  = "customer.subscription.deleted"
)

type want int

const (
	wantNothing want = iota
	wantPastDue
	wantPaid
	wantCanceled
)

// wantOf maps a signal to the state it points the tenant at. A subscription update is
// judged by the subscription's status in the event, never by the event's name alone.
func wantOf(s Signal) (want, bool) {
	switch s.Type {
	case StripeInvoicePaymentFailed:
		return wantPastDue, true
	case StripeInvoicePaid:
		return wantPaid, true
	case StripeSubscriptionDeleted:
		return wantCanceled, true
	case StripeSubscriptionUpdated:
		switch s.ObjectStatus {
		case "past_due", "unpaid":
			return wantPastDue, true
		case "active", "trialing":
			return wantPaid, true
		case "canceled":
			return wantCanceled, true
		}
		return wantNothing, true
	}
	return wantNothing, false
}

// Receive decides what a Stripe delivery does to tenant t: the tenant events to append (in
// the tenant stream) and the record of the delivery (in the billing stream), appended
// together. Deliveries are ordered by Stripe's creation time, not by arrival: one created
// before the newest delivery already acted on is recorded as stale and changes nothing, so
// a late "payment failed" never undoes a newer "paid". grace is how long a past-due tenant
// keeps working, counted from the failure's creation time.
//
// A delivery concerns the tenant only when its object's customer is the tenant's linked
// customer and, for subscription and invoice events, its subscription is the linked one: a
// valid signature proves the event comes from Stripe, not that it is about this tenant (the
// Stripe account has other customers and subscriptions). Anything else is recorded as
// ignored, with the reason, and changes nothing.
//
//   - payment failed (or subscription past_due/unpaid): an active tenant becomes past due;
//   - paid (or subscription active/trialing): a past-due tenant, or one suspended for
//     payment, is reactivated; a suspension for any other reason stays;
//   - subscription deleted (or canceled): an active or past-due tenant is suspended with
//     reason subscription_canceled.
func (a *Account) Receive(t *tenant.Tenant, s Signal, grace time.Duration, now time.Time) ([]domain.Event, StripeEventReceived, error) {
	rec := StripeEventReceived{StripeEventID: s.EventID, Type: s.Type, Created: s.Created.UTC(),
		ObjectID: s.ObjectID, ObjectStatus: s.ObjectStatus, CustomerID: s.CustomerID, SubscriptionID: s.SubscriptionID}
	if s.EventID == "" || s.Type == "" || s.Created.IsZero() {
		return nil, rec, domain.Invalid("event", "a Stripe event needs an id, a type and a creation time")
	}
	ignore := func(r Reason) ([]domain.Event, StripeEventReceived, error) {
		rec.Outcome, rec.Reason = OutcomeIgnored, r
		return nil, rec, nil
	}
	w, handled := wantOf(s)
	switch {
	case !a.Linked() || s.CustomerID != a.customerID:
		return ignore(ReasonCustomerNotLinked)
	case concernsSubscription(s.Type) && s.SubscriptionID != a.subscriptionID:
		return ignore(ReasonSubscriptionNotLinked)
	case !handled:
		return ignore(ReasonTypeNotHandled)
	case s.Created.Before(a.statusAt):
		rec.Outcome = OutcomeStale
		return nil, rec, nil
	}
	rec.Outcome = OutcomeNoChange
	if t.Version() == 0 || t.Status() == tenant.StatusClosed {
		return nil, rec, nil
	}
	var events []domain.Event
	var err error
	switch st := t.Status(); {
	case w == wantPastDue && st == tenant.StatusActive:
		since := s.Created.UTC()
		events, err = t.MarkPastDue(since, since.Add(grace), now)
	case w == wantPaid && (st == tenant.StatusPastDue ||
		st == tenant.StatusSuspended && t.SuspendReason() == tenant.ReasonPaymentFailed):
		events, err = t.Reactivate(now)
	case w == wantCanceled && (st == tenant.StatusActive || st == tenant.StatusPastDue):
		events, err = t.Suspend(tenant.ReasonSubscriptionCanceled, "the Stripe subscription "+s.ObjectID+" was canceled", now)
	}
	if err != nil {
		return nil, rec, err
	}
	if len(events) > 0 {
		rec.Outcome = OutcomeApplied
	}
	return events, rec, nil
}

// GraceEnded decides the dunning check: a past-due tenant whose grace period has ended by
// now is suspended for payment; any other tenant is left alone.
func GraceEnded(t *tenant.Tenant, now time.Time) ([]domain.Event, error) {
	if t.Status() != tenant.StatusPastDue || now.Before(t.GraceEndsAt()) {
		return nil, nil
	}
	return t.Suspend(tenant.ReasonPaymentFailed,
		"payment overdue since "+t.PastDueSince().Format(time.RFC3339)+"; grace period ended "+t.GraceEndsAt().Format(time.RFC3339), now)
}
