package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/tenantry/tenantry/domain/app"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/http/api"
)

// WebhookTolerance is how old a Stripe signature may be.
const WebhookTolerance = 300 * time.Second

// stripeWebhook verifies a Stripe delivery's signature and has the delivery applied
// (Deps.Webhooks). Unsigned,
// forged and stale deliveries answer 400; nothing about them is trusted or stored.
func (s *Server) stripeWebhook(c *gin.Context, _ *call) {
	if s.d.StripeWebhookSecret == "" {
		fail(c, http.StatusServiceUnavailable, "unavailable", "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET is unset)")
		return
	}
	payload, err := io.ReadAll(c.Request.Body)
	if isTooLarge(err) {
		tooLarge(c, true)
		return
	}
	if err != nil {
		fail(c, http.StatusBadRequest, "invalid-request", "could not read the request body")
		return
	}
	sig := c.GetHeader("Stripe-Signature")
	if sig == "" {
		fail(c, http.StatusBadRequest, "invalid-request", "the Stripe-Signature header is missing")
		return
	}
	ev, err := webhook.ConstructEventWithOptions(payload, sig, s.d.StripeWebhookSecret,
		webhook.ConstructEventOptions{Tolerance: WebhookTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		fail(c, http.StatusBadRequest, "invalid-request", "the Stripe signature is not valid, or is older than 300 seconds")
		return
	}
	log := s.logger(c).With("stripe_event_id", ev.ID, "stripe_event_type", string(ev.Type))
	if s.d.Webhooks == nil {
		log.Info("stripe webhook acknowledged (no billing worker configured)")
		reply(c, http.StatusOK, api.WebhookReceipt{Received: true, ID: ev.ID, Type: string(ev.Type), Outcome: string(dbilling.OutcomeIgnored)})
		return
	}
	d, err := s.d.Webhooks(c.Request.Context(), stripeEvent(ev))
	if err != nil {
		// A malformed event answers 400; anything else 500, and Stripe delivers it again.
		s.failErr(c, err)
		return
	}
	if d.TenantID != uuid.Nil { // a delivery about no tenant names none, not the nil id
		setTenant(c, d.TenantID)
		log = log.With("tenant_id", d.TenantID)
	}
	if d.Outcome == dbilling.OutcomeIgnored && !d.Duplicate {
		s.metrics.stripeDeliveryIgnored(d.Reason)
	}
	log.Info("stripe webhook handled", "outcome", string(d.Outcome), "reason", string(d.Reason), "duplicate", d.Duplicate)
	reply(c, http.StatusOK, api.WebhookReceipt{Received: true, ID: ev.ID, Type: string(ev.Type), Outcome: string(d.Outcome),
		Reason: string(d.Reason), Duplicate: d.Duplicate, Seq: d.Seq})
}

// stripeEvent is what the use case reads of a verified event. An event without data keeps
// a nil object; one whose data has no object keeps an empty one (not JSON: refused as such).
func stripeEvent(ev stripego.Event) app.StripeEvent {
	var obj json.RawMessage
	if ev.Data != nil {
		obj = append(json.RawMessage{}, ev.Data.Raw...)
	}
	return app.StripeEvent{ID: ev.ID, Type: string(ev.Type), Created: ev.Created, Object: obj}
}
