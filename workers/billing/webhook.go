package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"

	"github.com/tenantry/tenantry/domain"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/logctx"
)

// Delivery is what handling one Stripe webhook delivery did.
type Delivery struct {
	TenantID  uuid.UUID        `json:"tenant_id,omitempty"`
	Outcome   dbilling.Outcome `json:"outcome"`
	Reason    dbilling.Reason  `json:"reason,omitempty"` // why an ignored delivery was ignored
	Duplicate bool             `json:"duplicate"`
	Seq       int64            `json:"seq,omitempty"`
}

// stripeObject is the part of an event's object billing reads.
type stripeObject struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"`
	Customer json.RawMessage `json:"customer"`
	// An invoice's subscription (API version 2023-10-16; an id, or the expanded object),
	// and where later API versions moved it.
	Subscription json.RawMessage `json:"subscription"`
	Parent       json.RawMessage `json:"parent"` // read leniently: its shape is not ours to refuse
	// The object's metadata (a tenant_id set at provisioning) is never read: anyone who can
	// create objects in the Stripe account can write it, so it is no authority on the tenant.
}

// idOf reads an expandable Stripe field: an id string, or an object with an id.
func idOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.ID
	}
	return ""
}

func (o stripeObject) customerID() string { return idOf(o.Customer) }

// subscriptionID is the subscription an event's object concerns: a subscription event's
// own object, an invoice's subscription; empty for anything else.
func (o stripeObject) subscriptionID(eventType string) string {
	switch {
	case strings.HasPrefix(eventType, "customer.subscription."):
		return o.ID
	case strings.HasPrefix(eventType, "invoice."):
		if id := idOf(o.Subscription); id != "" {
			return id
		}
		var parent struct {
			SubscriptionDetails struct {
				Subscription json.RawMessage `json:"subscription"`
			} `json:"subscription_details"`
		}
		if json.Unmarshal(o.Parent, &parent) != nil {
			return ""
		}
		return idOf(parent.SubscriptionDetails.Subscription)
	}
	return ""
}

// deliveryNamespace versions the derivation of delivery event ids.
const deliveryNamespace = "tenantry/stripe-event/v1"

// DeliveryEventID is the id of the billing.stripe_event_received event of a Stripe event in
// a tenant: a redelivery maps to the same id, which is how it is recognised.
func DeliveryEventID(tenantID uuid.UUID, stripeEventID string) uuid.UUID {
	return domain.DeriveID(deliveryNamespace, tenantID, stripeEventID)
}

// Receive applies one verified Stripe event. The tenant is the one whose linked customer is
// the object's customer, found in the tenant directory; the object's metadata is never an
// authority. An event whose customer is no tenant's is ignored (there is no tenant stream to
// record it in) and logged; the account then decides (Account.Receive) whether the event
// concerns its linked subscription. The delivery record and any lifecycle change are
// appended together, the change with the Stripe event id as its causation, so a redelivery
// (same Stripe id) changes nothing.
func (w *Worker) Receive(ctx context.Context, ev stripe.Event) (Delivery, error) {
	w.init()
	sig, err := ParseDelivery(ev)
	if err != nil {
		return Delivery{}, err
	}
	id, err := w.tenantOf(ctx, sig.CustomerID)
	if err != nil {
		return Delivery{}, err
	}
	if id == uuid.Nil {
		w.Logger.WarnContext(ctx, "Stripe event for no linked customer ignored", "stripe_event_id", ev.ID,
			"stripe_event_type", string(ev.Type), "stripe_customer_id", sig.CustomerID, "reason", string(dbilling.ReasonCustomerNotLinked))
		return Delivery{Outcome: dbilling.OutcomeIgnored, Reason: dbilling.ReasonCustomerNotLinked}, nil
	}
	ctx = logctx.With(ctx, "tenant_id", id.String())
	recID := DeliveryEventID(id, ev.ID)
	meta := eventstore.Metadata{Actor: "stripe", CausationID: ev.ID}
	var lastErr error
	for attempt := 0; attempt < eventstore.MaxAttempts; attempt++ {
		if seen, err := w.Store.StoredEventIDs(ctx, id, []uuid.UUID{recID}); err != nil || seen[recID] {
			return Delivery{TenantID: id, Duplicate: seen[recID]}, err
		}
		t, tv, err := eventstore.Load(ctx, w.Store, w.Registry, id, tenant.StreamID, newTenant)
		if err != nil {
			return Delivery{}, err
		}
		acct, av, err := eventstore.Load(ctx, w.Store, w.Registry, id, dbilling.AccountStreamID, dbilling.NewAccount)
		if err != nil {
			return Delivery{}, err
		}
		changes, rec, err := acct.Receive(t, sig, w.Config.Grace, w.now())
		if err != nil {
			return Delivery{}, err
		}
		recEvents, err := w.encode(meta, []domain.Event{rec})
		if err != nil {
			return Delivery{}, err
		}
		recEvents[0].ID = recID
		parts := []eventstore.StreamAppend{{Stream: dbilling.AccountStreamID, Expected: eventstore.Exact(av), Events: recEvents}}
		if len(changes) > 0 {
			ce, err := w.encode(meta, changes)
			if err != nil {
				return Delivery{}, err
			}
			parts = append(parts, eventstore.StreamAppend{Stream: tenant.StreamID, Expected: eventstore.Exact(tv), Events: ce})
		}
		res, err := w.Store.AppendStreams(ctx, id, parts...)
		if err == nil {
			d := Delivery{TenantID: id, Outcome: rec.Outcome, Reason: rec.Reason, Seq: res[len(res)-1].LastSeq}
			w.Logger.InfoContext(ctx, "Stripe event handled", "stripe_event_id", ev.ID,
				"stripe_event_type", string(ev.Type), "outcome", string(rec.Outcome), "reason", string(rec.Reason))
			return d, nil
		}
		if !errors.Is(err, eventstore.ErrConcurrency) && !errors.Is(err, eventstore.ErrEventIDConflict) {
			return Delivery{}, err
		}
		lastErr = err // a concurrent delivery or command: look again
	}
	return Delivery{}, fmt.Errorf("gave up after %d attempts: %w", eventstore.MaxAttempts, lastErr)
}

// ParseDelivery reads what billing decides on from a verified Stripe event: a domain
// Invalid error when it lacks an id, a type, a plausible creation time or an object.
func ParseDelivery(ev stripe.Event) (dbilling.Signal, error) {
	var obj stripeObject
	if ev.ID == "" || len(ev.ID) > 255 || ev.Type == "" || len(ev.Type) > 255 || ev.Data == nil {
		return dbilling.Signal{}, domain.Invalid("event", "the Stripe event has no id, type or object")
	}
	if ev.Created <= 0 || ev.Created > 1<<40 {
		return dbilling.Signal{}, domain.Invalid("created", "the Stripe event has no plausible creation time")
	}
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil {
		return dbilling.Signal{}, domain.Invalid("data.object", "the Stripe event's object is not a JSON object of the expected shape")
	}
	typ := truncate(string(ev.Type), 255)
	return dbilling.Signal{EventID: truncate(ev.ID, 255), Type: typ,
		Created: time.Unix(ev.Created, 0).UTC(), ObjectID: truncate(obj.ID, 100), ObjectStatus: truncate(obj.Status, 50),
		CustomerID: stripeID(obj.customerID()), SubscriptionID: stripeID(obj.subscriptionID(typ))}, nil
}

// stripeID keeps an id that could be Stripe's (at most 255 bytes, valid UTF-8) and drops
// anything else: a cut-down id could match another object's.
func stripeID(s string) string {
	if len(s) > 255 || !utf8.ValidString(s) {
		return ""
	}
	return s
}

// tenantOf finds the tenant whose linked Stripe customer is customerID; uuid.Nil when none.
func (w *Worker) tenantOf(ctx context.Context, customerID string) (uuid.UUID, error) {
	if customerID == "" {
		return uuid.Nil, nil
	}
	t, err := w.Store.FindTenantByCustomer(ctx, customerID)
	if errors.Is(err, eventstore.ErrTenantNotFound) {
		return uuid.Nil, nil
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("find the tenant of Stripe customer %s: %w", customerID, err)
	}
	return t.ID, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
