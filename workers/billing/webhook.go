package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"

	"github.com/tenantry/tenantry/domain"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/logctx"
	"github.com/tenantry/tenantry/projections"
)

// Delivery is what handling one Stripe webhook delivery did.
type Delivery struct {
	TenantID  uuid.UUID        `json:"tenant_id,omitempty"`
	Outcome   dbilling.Outcome `json:"outcome"`
	Duplicate bool             `json:"duplicate"`
	Seq       int64            `json:"seq,omitempty"`
}

// stripeObject is the part of an event's object billing reads.
type stripeObject struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"`
	Customer json.RawMessage `json:"customer"`
	Metadata map[string]any  `json:"metadata"`
	// Invoices carry their subscription's metadata here (API version 2023-10-16).
	SubscriptionDetails struct {
		Metadata map[string]any `json:"metadata"`
	} `json:"subscription_details"`
}

func (o stripeObject) customerID() string {
	var s string
	if json.Unmarshal(o.Customer, &s) == nil {
		return s
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(o.Customer, &obj) == nil {
		return obj.ID
	}
	return ""
}

func (o stripeObject) tenantHint() uuid.UUID {
	for _, md := range []map[string]any{o.Metadata, o.SubscriptionDetails.Metadata} {
		if s, ok := md["tenant_id"].(string); ok {
			if id, err := uuid.Parse(s); err == nil {
				return id
			}
		}
	}
	return uuid.Nil
}

// deliveryNamespace versions the derivation of delivery event ids.
const deliveryNamespace = "tenantry/stripe-event/v1"

// DeliveryEventID is the id of the billing.stripe_event_received event of a Stripe event in
// a tenant: a redelivery maps to the same id, which is how it is recognised.
func DeliveryEventID(tenantID uuid.UUID, stripeEventID string) uuid.UUID {
	return domain.DeriveID(deliveryNamespace, tenantID, stripeEventID)
}

// Receive applies one verified Stripe event. The tenant is the one linked to the object's
// customer (or named by its tenant_id metadata); an event for no known tenant is ignored.
// The delivery record and any lifecycle change are appended together, the change with the
// Stripe event id as its causation, so a redelivery (same Stripe id) changes nothing.
func (w *Worker) Receive(ctx context.Context, ev stripe.Event) (Delivery, error) {
	w.init()
	sig, obj, err := parseDelivery(ev)
	if err != nil {
		return Delivery{}, err
	}
	id, err := w.tenantOf(ctx, obj)
	if err != nil {
		return Delivery{}, err
	}
	if id != uuid.Nil {
		ctx = logctx.With(ctx, "tenant_id", id.String())
	}
	if id == uuid.Nil {
		w.Logger.WarnContext(ctx, "Stripe event for no known tenant ignored", "stripe_event_id", ev.ID, "stripe_event_type", string(ev.Type))
		return Delivery{Outcome: dbilling.OutcomeIgnored}, nil
	}
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
			d := Delivery{TenantID: id, Outcome: rec.Outcome, Seq: res[len(res)-1].LastSeq}
			w.Logger.InfoContext(ctx, "Stripe event handled", "stripe_event_id", ev.ID,
				"stripe_event_type", string(ev.Type), "outcome", string(rec.Outcome))
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
	sig, _, err := parseDelivery(ev)
	return sig, err
}

func parseDelivery(ev stripe.Event) (dbilling.Signal, stripeObject, error) {
	var obj stripeObject
	if ev.ID == "" || len(ev.ID) > 255 || ev.Type == "" || len(ev.Type) > 255 || ev.Data == nil {
		return dbilling.Signal{}, obj, domain.Invalid("event", "the Stripe event has no id, type or object")
	}
	if ev.Created <= 0 || ev.Created > 1<<40 {
		return dbilling.Signal{}, obj, domain.Invalid("created", "the Stripe event has no plausible creation time")
	}
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil {
		return dbilling.Signal{}, obj, domain.Invalid("data.object", "the Stripe event's object is not a JSON object of the expected shape")
	}
	return dbilling.Signal{EventID: truncate(ev.ID, 255), Type: truncate(string(ev.Type), 255),
		Created: time.Unix(ev.Created, 0).UTC(), ObjectID: truncate(obj.ID, 100), ObjectStatus: truncate(obj.Status, 50)}, obj, nil
}

func (w *Worker) tenantOf(ctx context.Context, obj stripeObject) (uuid.UUID, error) {
	if cus := obj.customerID(); cus != "" {
		t, err := projections.FindTenantByCustomer(ctx, w.pool(), cus)
		if err == nil {
			return t.ID, nil
		}
		if !errors.Is(err, projections.ErrTenantNotFound) {
			return uuid.Nil, err
		}
	}
	if hint := obj.tenantHint(); hint != uuid.Nil {
		t, err := projections.FindTenant(ctx, w.pool(), hint.String())
		if err == nil {
			return t.ID, nil
		}
		if !errors.Is(err, projections.ErrTenantNotFound) {
			return uuid.Nil, err
		}
	}
	return uuid.Nil, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
