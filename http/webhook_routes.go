package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/http/api"
)

// webhookEndpointRoutes are the outbound webhook endpoints' rows of the route table: a tenant
// admin's (tenant-scoped) and the same set under /v1/admin for the operator.
func (s *Server) webhookEndpointRoutes() []route {
	var rts []route
	for _, operatorOwned := range []bool{false, true} {
		base, acc, tag, idp := "/v1/webhook-endpoints", member, "Webhook endpoints", ""
		if operatorOwned {
			base, acc, tag, idp = "/v1/admin/webhook-endpoints", operator, "Admin", "Admin"
		}
		row := func(method, path string, h func(*gin.Context, *call, uuid.UUID), d op) route {
			d.tag = tag
			d.id = opID(d.id, idp)
			if strings.HasPrefix(path, "/:id") {
				ps := map[string]param{"id": {name: "id", desc: "the webhook endpoint's id", schema: strf("uuid"), required: true}}
				for k, v := range d.paths {
					ps[k] = v
				}
				d.paths = ps
			}
			rt := route{method: method, path: base + path, access: acc, handler: s.webhookOwner(operatorOwned, h), doc: d}
			if !operatorOwned {
				rt.roles, rt.scoped = admin, true
			}
			return rt
		}
		redeliver := docRedeliverWebhook
		if operatorOwned {
			redeliver.query = []param{{name: "tenant_id", desc: "the event's tenant (required: the operator's endpoints receive every tenant's events)", schema: strf("uuid"), required: true}}
		}
		rts = append(rts,
			row("GET", "", s.listWebhookEndpoints, docListWebhookEndpoints),
			row("POST", "", s.createWebhookEndpoint, docCreateWebhookEndpoint),
			row("GET", "/:id", s.getWebhookEndpoint, docGetWebhookEndpoint),
			row("PATCH", "/:id", s.patchWebhookEndpoint, docPatchWebhookEndpoint),
			row("DELETE", "/:id", s.deleteWebhookEndpoint, docDeleteWebhookEndpoint),
			row("POST", "/:id/rotate-secret", s.rotateWebhookSecret, docRotateWebhookSecret),
			row("GET", "/:id/deliveries", s.listWebhookDeliveries, docListWebhookDeliveries),
			row("POST", "/:id/deliveries/:seq/redeliver", s.redeliverWebhook, redeliver),
		)
	}
	return rts
}

// opID is id for the tenant's routes, and with "Admin" inserted after its verb for the
// operator's (listWebhookEndpoints, listAdminWebhookEndpoints).
func opID(id, infix string) string {
	if infix == "" {
		return id
	}
	for i, r := range id {
		if r >= 'A' && r <= 'Z' {
			return id[:i] + infix + id[i:]
		}
	}
	return id + infix
}

var (
	seqPath   = map[string]param{"seq": {name: "seq", desc: "the event's seq in its tenant's stream", schema: integerS(1, 0), required: true}}
	webhookNo = "Creating an endpoint or rotating its secret needs the deployment's webhook key (TENANTRY_WEBHOOK_KEY): 503 without one."

	docListWebhookEndpoints = op{id: "listWebhookEndpoints", summary: "List the webhook endpoints", result: api.WebhookEndpointList{},
		desc: "The registered endpoints (at most 16), oldest first, without their secrets."}
	docCreateWebhookEndpoint = op{id: "createWebhookEndpoint", summary: "Register a webhook endpoint", status: 201,
		body: api.CreateWebhookEndpointRequest{}, result: api.WebhookEndpointCreated{}, errors: []int{422, 503},
		desc: "Registers an endpoint for the event types it lists (or \"*\"); it receives the events recorded from now on, each POSTed as JSON " +
			"signed Tenantry-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"t.body\">. The signing secret is shown only in this answer. " +
			"URLs must be https (http only for a loopback host unless TENANTRY_WEBHOOK_ALLOW_HTTP=1); at most 16 endpoints (422). " + webhookNo}
	docGetWebhookEndpoint = op{errors: []int{404}, id: "getWebhookEndpoint", summary: "Get a webhook endpoint", result: api.WebhookEndpoint{},
		desc: "One endpoint, with its health (failing_since, consecutive_failures) and why it is disabled, if it is."}
	docPatchWebhookEndpoint = op{errors: []int{404}, id: "updateWebhookEndpoint", summary: "Change a webhook endpoint", body: api.UpdateWebhookEndpointRequest{}, result: api.WebhookEndpoint{},
		desc: "Changes the URL, event types or description; status enabled re-enables an endpoint disabled after sustained failure, disabled stops deliveries."}
	docDeleteWebhookEndpoint = op{errors: []int{404}, id: "deleteWebhookEndpoint", summary: "Delete a webhook endpoint", status: 204,
		desc: "Removes the endpoint and its delivery log; pending deliveries are dropped."}
	docRotateWebhookSecret = op{id: "rotateWebhookSecret", summary: "Rotate a webhook endpoint's signing secret", body: api.RotateWebhookSecretRequest{},
		result: api.WebhookEndpointCreated{}, errors: []int{404, 503},
		desc: "Issues a new signing secret, shown only in this answer. For overlap_seconds (default one day, at most seven) deliveries carry " +
			"two v1 signatures, the new secret's and the previous one's, so receivers can switch without losing a delivery. The body is optional. " + webhookNo}
	docListWebhookDeliveries = op{errors: []int{404}, id: "listWebhookDeliveries", summary: "List an endpoint's deliveries", query: []param{cursorP, limitP(maxDeliveryPage)},
		result: api.WebhookDeliveryList{},
		desc:   "The endpoint's delivery log, newest first, a page at a time: status, attempts, next try, last response code and error."}
	docRedeliverWebhook = op{errors: []int{404}, id: "redeliverWebhook", summary: "Redeliver an event", status: 202, result: api.WebhookRedelivery{}, paths: seqPath,
		desc: "Queues an event's delivery to the endpoint again, due now, with a fresh retry window; it goes before the tenant's later pending " +
			"deliveries to the endpoint, so order per tenant holds."}
)
