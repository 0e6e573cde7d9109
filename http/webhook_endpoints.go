package httpapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/webhook"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// The outbound webhook endpoints' routes (issue 19). A tenant admin manages the tenant's
// endpoints under /v1/webhook-endpoints; the operator manages the deployment-wide ones
// (every tenant's events) under /v1/admin/webhook-endpoints. One set of handlers serves
// both: the owner is the caller's tenant, or webhook.Operator.

const (
	defaultRotationOverlap = 24 * time.Hour
	maxRotationOverlap     = 7 * 24 * time.Hour
	maxDeliveryPage        = 100
	defaultDeliveryPage    = 50
)

// webhookOwner adapts a handler that takes the endpoints' owner to a route handler: the
// operator's routes (admin) own webhook.Operator's endpoints, the others the caller's tenant's.
func (s *Server) webhookOwner(admin bool, h func(*gin.Context, *call, uuid.UUID)) func(*gin.Context, *call) {
	return func(c *gin.Context, cl *call) {
		owner := cl.tenant
		if admin {
			owner = webhook.Operator
		}
		h(c, cl, owner)
	}
}

// knownEventType reports whether typ is an event type of Tenantry's catalog or of a product
// this server serves.
func (s *Server) knownEventType(typ string) bool {
	for _, e := range catalog.Events() {
		if e.Type == typ {
			return true
		}
	}
	for _, p := range s.d.Products {
		for _, e := range p.Module.Events {
			if e.Type == typ {
				return true
			}
		}
	}
	return false
}

func webhookEndpointAnswer(e eventstore.WebhookEndpoint) api.WebhookEndpoint {
	out := api.WebhookEndpoint{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description, Status: e.Status,
		DisabledReason: e.DisabledReason, FailingSince: e.FailingSince, ConsecutiveFailures: e.ConsecutiveFailures,
		PreviousSecretUntil: e.PreviousExpiresAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if out.PreviousSecretUntil != nil && out.PreviousSecretUntil.Before(time.Now()) {
		out.PreviousSecretUntil = nil
	}
	if e.Owner != webhook.Operator {
		owner := e.Owner
		out.TenantID = &owner
	}
	return out
}

// failWebhook answers the storage's errors: unknown endpoints 404, the limit 422.
func (s *Server) failWebhook(c *gin.Context, err error) {
	switch {
	case errors.Is(err, eventstore.ErrWebhookEndpointNotFound):
		fail(c, http.StatusNotFound, "not-found", "webhook endpoint not found")
	case errors.Is(err, eventstore.ErrWebhookDeliveryNotFound):
		fail(c, http.StatusNotFound, "not-found", "webhook delivery not found")
	case errors.Is(err, eventstore.ErrWebhookEndpointLimit):
		fail(c, http.StatusUnprocessableEntity, "limit-exceeded", fmt.Sprintf("at most %d webhook endpoints may be registered", webhook.MaxEndpoints),
			FieldError{Field: "url", Message: "webhook endpoint limit reached"})
	default:
		s.failErr(c, err)
	}
}

// noWebhookKey answers 503 when the deployment cannot seal secrets.
func (s *Server) noWebhookKey(c *gin.Context) bool {
	if s.d.WebhookKey == nil {
		fail(c, http.StatusServiceUnavailable, "unavailable", "webhooks are not configured: set TENANTRY_WEBHOOK_KEY or TENANTRY_WEBHOOK_KEY_FILE (32 bytes, hex or base64)")
		return true
	}
	return false
}

func (s *Server) createWebhookEndpoint(c *gin.Context, cl *call, owner uuid.UUID) {
	var req api.CreateWebhookEndpointRequest
	if !decode(c, cl.body, &req) || s.noWebhookKey(c) {
		return
	}
	if req.EventTypes == nil {
		req.EventTypes = []string{} // required: refused below
	}
	if err := s.checkWebhookFields(&req.URL, req.EventTypes, &req.Description); err != nil {
		s.failErr(c, err)
		return
	}
	id := uuid.Must(uuid.NewV7())
	secret, err := webhook.NewSecret()
	if err != nil {
		s.internal(c, err)
		return
	}
	sealed, err := s.d.WebhookKey.Seal(id, secret)
	if err != nil {
		s.internal(c, err)
		return
	}
	e, err := s.d.Store.CreateWebhookEndpoint(c, eventstore.WebhookEndpoint{ID: id, Owner: owner, URL: req.URL, EventTypes: req.EventTypes,
		Description: req.Description, SecretSealed: sealed}, webhook.MaxEndpoints)
	if err != nil {
		s.failWebhook(c, err)
		return
	}
	reply(c, http.StatusCreated, api.WebhookEndpointCreated{Endpoint: webhookEndpointAnswer(e), Secret: secret})
}

// checkWebhookFields validates the fields that are set (nil: unchanged).
func (s *Server) checkWebhookFields(url *string, types []string, description *string) error {
	var errs domain.Invalids
	if url != nil {
		if err := webhook.ValidateURL(*url, s.d.WebhookAllowHTTP); err != nil {
			var de *domain.Error
			errors.As(err, &de)
			errs = append(errs, de)
		}
	}
	if types != nil {
		if err := webhook.ValidateTypes(types, s.knownEventType); err != nil {
			var de *domain.Error
			errors.As(err, &de)
			errs = append(errs, de)
		}
	}
	if description != nil && len(*description) > 500 {
		errs = append(errs, domain.Invalid("description", "description must be at most 500 bytes"))
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errs
}

func (s *Server) listWebhookEndpoints(c *gin.Context, _ *call, owner uuid.UUID) {
	es, err := s.d.Store.WebhookEndpoints(c, owner)
	if err != nil {
		s.failWebhook(c, err)
		return
	}
	reply(c, http.StatusOK, api.WebhookEndpointList{Endpoints: mapAll(es, webhookEndpointAnswer)})
}

func (s *Server) getWebhookEndpoint(c *gin.Context, _ *call, owner uuid.UUID) {
	id, ok := pathID(c, "webhook endpoint")
	if !ok {
		return
	}
	e, err := s.d.Store.WebhookEndpoint(c, owner, id)
	if err != nil {
		s.failWebhook(c, err)
		return
	}
	reply(c, http.StatusOK, webhookEndpointAnswer(e))
}

func (s *Server) patchWebhookEndpoint(c *gin.Context, cl *call, owner uuid.UUID) {
	id, ok := pathID(c, "webhook endpoint")
	if !ok {
		return
	}
	var req api.UpdateWebhookEndpointRequest
	if !decode(c, cl.body, &req) {
		return
	}
	if req.EventTypes != nil && len(req.EventTypes) == 0 {
		s.failErr(c, domain.Invalid("event_types", "event_types must list 1 to 100 event types (or \"*\")"))
		return
	}
	if err := s.checkWebhookFields(req.URL, req.EventTypes, req.Description); err != nil {
		s.failErr(c, err)
		return
	}
	p := eventstore.WebhookEndpointPatch{URL: req.URL, EventTypes: req.EventTypes, Description: req.Description, Status: req.Status}
	if req.Status != nil {
		switch *req.Status {
		case webhook.StatusEnabled:
		case webhook.StatusDisabled:
			p.DisabledReason = "disabled by its owner"
		default:
			s.failErr(c, domain.Invalid("status", "status must be enabled or disabled"))
			return
		}
	}
	e, err := s.d.Store.PatchWebhookEndpoint(c, owner, id, p)
	if err != nil {
		s.failWebhook(c, err)
		return
	}
	reply(c, http.StatusOK, webhookEndpointAnswer(e))
}

func (s *Server) deleteWebhookEndpoint(c *gin.Context, _ *call, owner uuid.UUID) {
	id, ok := pathID(c, "webhook endpoint")
	if !ok {
		return
	}
	if err := s.d.Store.DeleteWebhookEndpoint(c, owner, id); err != nil {
		s.failWebhook(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) rotateWebhookSecret(c *gin.Context, cl *call, owner uuid.UUID) {
	id, ok := pathID(c, "webhook endpoint")
	if !ok {
		return
	}
	var req api.RotateWebhookSecretRequest
	if len(strings.TrimSpace(string(cl.body))) > 0 && !decode(c, cl.body, &req) {
		return
	}
	if s.noWebhookKey(c) {
		return
	}
	overlap := defaultRotationOverlap
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 0 || *req.OverlapSeconds > int64(maxRotationOverlap/time.Second) {
			s.failErr(c, domain.Invalid("overlap_seconds", "overlap_seconds must be 0 to 604800 (7 days)"))
			return
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		s.internal(c, err)
		return
	}
	sealed, err := s.d.WebhookKey.Seal(id, secret)
	if err != nil {
		s.internal(c, err)
		return
	}
	e, err := s.d.Store.RotateWebhookSecret(c, owner, id, sealed, overlap)
	if err != nil {
		s.failWebhook(c, err)
		return
	}
	reply(c, http.StatusOK, api.WebhookEndpointCreated{Endpoint: webhookEndpointAnswer(e), Secret: secret})
}

func (s *Server) listWebhookDeliveries(c *gin.Context, _ *call, owner uuid.UUID) {
	id, ok := pathID(c, "webhook endpoint")
	if !ok {
		return
	}
	limit := defaultDeliveryPage
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxDeliveryPage {
			s.failErr(c, domain.Invalid("limit", "limit must be 1 to %d", maxDeliveryPage))
			return
		}
		limit = n
	}
	var after *eventstore.WebhookDeliveryCursor
	if cur := c.Query("cursor"); cur != "" {
		var ok bool
		if after, ok = parseDeliveryCursor(cur); !ok {
			s.failErr(c, domain.Invalid("cursor", "cursor is not a next_cursor of this list"))
			return
		}
	}
	ds, err := s.d.Store.WebhookDeliveries(c, owner, id, after, limit+1)
	if err != nil {
		s.failWebhook(c, err)
		return
	}
	out := api.WebhookDeliveryList{Deliveries: []api.WebhookDelivery{}}
	if len(ds) > limit {
		ds = ds[:limit]
		last := ds[limit-1]
		next := deliveryCursor(last)
		out.NextCursor, out.HasMore = &next, true
	}
	for _, d := range ds {
		w := api.WebhookDelivery{TenantID: d.TenantID, Seq: d.Seq, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
			Attempts: d.Attempts, LastAttemptAt: d.LastAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError,
			DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt}
		if d.Status == "pending" {
			next := d.NextAttemptAt
			w.NextAttemptAt = &next
		}
		out.Deliveries = append(out.Deliveries, w)
	}
	reply(c, http.StatusOK, out)
}

// deliveryCursor is the opaque position after d: its queueing time, tenant and seq.
func deliveryCursor(d eventstore.WebhookDelivery) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s:%d", d.CreatedAt.UnixMicro(), d.TenantID, d.Seq))
}

func parseDeliveryCursor(s string) (*eventstore.WebhookDeliveryCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 {
		return nil, false
	}
	micro, err1 := strconv.ParseInt(parts[0], 10, 64)
	tenant, err2 := uuid.Parse(parts[1])
	seq, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, false
	}
	return &eventstore.WebhookDeliveryCursor{CreatedAt: time.UnixMicro(micro), TenantID: tenant, Seq: seq}, true
}

// redeliverWebhook queues one delivery again. The operator's endpoints receive every
// tenant's events, so the operator names the tenant (tenant_id); a tenant's are its own.
func (s *Server) redeliverWebhook(c *gin.Context, _ *call, owner uuid.UUID) {
	id, ok := pathID(c, "webhook endpoint")
	if !ok {
		return
	}
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq < 1 {
		fail(c, http.StatusNotFound, "not-found", "webhook delivery not found")
		return
	}
	tenant := owner
	if owner == webhook.Operator {
		if tenant, err = uuid.Parse(c.Query("tenant_id")); err != nil {
			s.failErr(c, domain.Invalid("tenant_id", "tenant_id (the event's tenant) is required for the operator's endpoints"))
			return
		}
	}
	if err := s.d.Store.RedeliverWebhook(c, owner, id, tenant, seq); err != nil {
		s.failWebhook(c, err)
		return
	}
	reply(c, http.StatusAccepted, api.WebhookRedelivery{TenantID: tenant, Seq: seq})
}
