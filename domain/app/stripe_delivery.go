package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
)

// StripeEvent is a Stripe event whose signature the port verified: its id, type, creation
// time (Unix seconds) and the raw JSON of its data.object. Nothing in it is trusted beyond
// that it came from Stripe.
type StripeEvent struct {
	ID      string
	Type    string
	Created int64
	Object  json.RawMessage
}

// StripeDelivery is what applying one Stripe delivery did.
type StripeDelivery struct {
	TenantID  uuid.UUID        `json:"tenant_id,omitempty"`
	Outcome   dbilling.Outcome `json:"outcome"`
	Reason    dbilling.Reason  `json:"reason,omitempty"` // why an ignored delivery was ignored
	Duplicate bool             `json:"duplicate"`
	Seq       int64            `json:"seq,omitempty"`
}

// CustomerTenants finds the tenant linked to a Stripe customer (the tenant directory).
type CustomerTenants interface {
	// TenantOfStripeCustomer returns the tenant whose linked customer is customerID;
	// uuid.Nil when there is none.
	TenantOfStripeCustomer(ctx context.Context, customerID string) (uuid.UUID, error)
}

// StoredEventIDs says which of ids a tenant has events for (eventstore.Store implements it).
type StoredEventIDs interface {
	StoredEventIDs(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error)
}

// IgnoredDeliveries records the Stripe deliveries that concern no tenant, which have no
// tenant stream to be recorded in (eventstore.Store implements it, on the API's role).
type IgnoredDeliveries interface {
	// RecordIgnoredStripeDelivery records the event once per event id, with the reason it
	// was ignored; false when it was recorded before.
	RecordIgnoredStripeDelivery(ctx context.Context, eventID, eventType, customerID, reason string, created time.Time) (bool, error)
}

// StripeDeliveries applies Stripe's webhook deliveries to the tenants' billing accounts and
// lifecycles.
type StripeDeliveries struct {
	store   EventStore
	stored  StoredEventIDs
	tenants CustomerTenants
	ignored IgnoredDeliveries
	grace   time.Duration
	clock   Clock
	log     *slog.Logger
}

// NewStripeDeliveries builds the use case: ignored records the deliveries that concern no
// tenant; grace is how long a past-due tenant keeps working; a nil clock is the system's, a
// nil logger discards.
func NewStripeDeliveries(store EventStore, stored StoredEventIDs, tenants CustomerTenants, ignored IgnoredDeliveries, grace time.Duration, clock Clock, log *slog.Logger) (*StripeDeliveries, error) {
	if store == nil || stored == nil || tenants == nil || ignored == nil {
		return nil, errors.New("stripe deliveries: an event store, the customer directory and a record of ignored deliveries are required")
	}
	if grace <= 0 {
		return nil, fmt.Errorf("stripe deliveries: grace %s must be positive", grace)
	}
	if clock == nil {
		clock = SystemClock
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StripeDeliveries{store: store, stored: stored, tenants: tenants, ignored: ignored, grace: grace, clock: clock, log: log}, nil
}

// deliveryNamespace versions the derivation of delivery event ids.
const deliveryNamespace = "tenantry/stripe-event/v1"

// DeliveryEventID is the id of the billing.stripe_event_received event of a Stripe event in
// a tenant: a redelivery maps to the same id, which is how it is recognised.
func DeliveryEventID(tenantID uuid.UUID, stripeEventID string) uuid.UUID {
	return domain.DeriveID(deliveryNamespace, tenantID, stripeEventID)
}

// Apply applies one verified Stripe event. The tenant is the one whose linked customer is
// the object's customer, found in the tenant directory; the object's metadata is never an
// authority. An event whose customer is no tenant's is ignored and recorded as such, once
// (IgnoredDeliveries: there is no tenant stream to record it in), and logged; a redelivery
// of it is a duplicate. The account then decides (Account.Receive) whether the event
// concerns its linked subscription. The delivery record and any lifecycle change are
// appended together, the change with the Stripe event id as its causation, so a redelivery
// (same Stripe id) changes nothing. A malformed event is a domain Invalid error.
func (s *StripeDeliveries) Apply(ctx context.Context, ev StripeEvent) (StripeDelivery, error) {
	sig, err := ParseStripeEvent(ev)
	if err != nil {
		return StripeDelivery{}, err
	}
	id, err := s.tenantOf(ctx, sig.CustomerID)
	if err != nil {
		return StripeDelivery{}, err
	}
	if id == uuid.Nil {
		reason := dbilling.ReasonCustomerNotLinked
		recorded, err := s.ignored.RecordIgnoredStripeDelivery(ctx, sig.EventID, sig.Type, sig.CustomerID, string(reason), sig.Created)
		if err != nil { // not recorded: answered as a failure, so that Stripe delivers it again
			return StripeDelivery{}, fmt.Errorf("record ignored Stripe event %s: %w", sig.EventID, err)
		}
		if recorded {
			s.log.WarnContext(ctx, "Stripe event for no linked customer ignored", "stripe_event_id", ev.ID,
				"stripe_event_type", ev.Type, "stripe_customer_id", sig.CustomerID, "reason", string(reason))
		}
		return StripeDelivery{Outcome: dbilling.OutcomeIgnored, Reason: reason, Duplicate: !recorded}, nil
	}
	log := s.log.With("tenant_id", id.String())
	recID := DeliveryEventID(id, ev.ID)
	meta := domain.Metadata{Actor: "stripe", CausationID: ev.ID}
	var lastErr error
	for attempt := 0; attempt < MaxAttempts; attempt++ {
		if seen, err := s.stored.StoredEventIDs(ctx, id, []uuid.UUID{recID}); err != nil || seen[recID] {
			return StripeDelivery{TenantID: id, Duplicate: seen[recID]}, err
		}
		t, tv, err := Load(ctx, s.store, id, tenant.StreamID, newTenant)
		if err != nil {
			return StripeDelivery{}, err
		}
		acct, av, err := Load(ctx, s.store, id, dbilling.AccountStreamID, dbilling.NewAccount)
		if err != nil {
			return StripeDelivery{}, err
		}
		changes, rec, err := acct.Receive(t, sig, s.grace, s.clock.Now().UTC())
		if err != nil {
			return StripeDelivery{}, err
		}
		parts := []domain.StreamPart{{Stream: dbilling.AccountStreamID, Expected: domain.Exact(av),
			Events: []domain.Pending{{ID: recID, Event: rec}}}}
		if len(changes) > 0 {
			ce := make([]domain.Pending, len(changes))
			for i, c := range changes {
				ce[i].Event = c
			}
			parts = append(parts, domain.StreamPart{Stream: tenant.StreamID, Expected: domain.Exact(tv), Events: ce})
		}
		res, err := s.store.AppendStreams(ctx, id, meta, parts...)
		if err == nil {
			log.InfoContext(ctx, "Stripe event handled", "stripe_event_id", ev.ID,
				"stripe_event_type", ev.Type, "outcome", string(rec.Outcome), "reason", string(rec.Reason))
			return StripeDelivery{TenantID: id, Outcome: rec.Outcome, Reason: rec.Reason, Seq: res[len(res)-1].LastSeq}, nil
		}
		if !errors.Is(err, domain.ErrConcurrency) && !errors.Is(err, domain.ErrEventIDConflict) {
			return StripeDelivery{}, err
		}
		lastErr = err // a concurrent delivery or command: look again
	}
	return StripeDelivery{}, fmt.Errorf("gave up after %d attempts: %w", MaxAttempts, lastErr)
}

// tenantOf finds the tenant whose linked Stripe customer is customerID; uuid.Nil when none.
func (s *StripeDeliveries) tenantOf(ctx context.Context, customerID string) (uuid.UUID, error) {
	if customerID == "" {
		return uuid.Nil, nil
	}
	id, err := s.tenants.TenantOfStripeCustomer(ctx, customerID)
	if err != nil {
		return uuid.Nil, fmt.Errorf("find the tenant of Stripe customer %s: %w", customerID, err)
	}
	return id, nil
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

// ParseStripeEvent reads what billing decides on from a verified Stripe event: a domain
// Invalid error when it lacks an id, a type, a plausible creation time or an object.
func ParseStripeEvent(ev StripeEvent) (dbilling.Signal, error) {
	var obj stripeObject
	if ev.ID == "" || len(ev.ID) > 255 || ev.Type == "" || len(ev.Type) > 255 || ev.Object == nil {
		return dbilling.Signal{}, domain.Invalid("event", "the Stripe event has no id, type or object")
	}
	if ev.Created <= 0 || ev.Created > 1<<40 {
		return dbilling.Signal{}, domain.Invalid("created", "the Stripe event has no plausible creation time")
	}
	if err := json.Unmarshal(ev.Object, &obj); err != nil {
		return dbilling.Signal{}, domain.Invalid("data.object", "the Stripe event's object is not a JSON object of the expected shape")
	}
	typ := truncate(ev.Type, 255)
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

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
