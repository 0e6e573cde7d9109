package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/http/api"
)

// webhookSet is where a set of webhook endpoint routes lives: the tenant's (scoped) or the
// operator's (/v1/admin).
type webhookSet struct {
	base   string
	scoped bool
}

var (
	tenantWebhooks   = webhookSet{base: "/v1/webhook-endpoints", scoped: true}
	operatorWebhooks = webhookSet{base: "/v1/admin/webhook-endpoints"}
)

func (w webhookSet) path(id uuid.UUID, rest string) string { return w.base + "/" + id.String() + rest }

func webhookList(c *Client, ctx context.Context, w webhookSet, opts []CallOption) (api.WebhookEndpointList, *Response, error) {
	var out api.WebhookEndpointList
	r, err := c.do(ctx, request{method: http.MethodGet, path: w.base, scoped: w.scoped}, &out, opts)
	return out, r, err
}

func webhookCreate(c *Client, ctx context.Context, w webhookSet, in api.CreateWebhookEndpointRequest, opts []CallOption) (api.WebhookEndpointCreated, *Response, error) {
	var out api.WebhookEndpointCreated
	r, err := c.do(ctx, request{method: http.MethodPost, path: w.base, body: in, scoped: w.scoped}, &out, opts)
	return out, r, err
}

func webhookGet(c *Client, ctx context.Context, w webhookSet, id uuid.UUID, opts []CallOption) (api.WebhookEndpoint, *Response, error) {
	var out api.WebhookEndpoint
	r, err := c.do(ctx, request{method: http.MethodGet, path: w.path(id, ""), scoped: w.scoped}, &out, opts)
	return out, r, err
}

func webhookUpdate(c *Client, ctx context.Context, w webhookSet, id uuid.UUID, in api.UpdateWebhookEndpointRequest, opts []CallOption) (api.WebhookEndpoint, *Response, error) {
	var out api.WebhookEndpoint
	r, err := c.do(ctx, request{method: http.MethodPatch, path: w.path(id, ""), body: in, scoped: w.scoped}, &out, opts)
	return out, r, err
}

func webhookDelete(c *Client, ctx context.Context, w webhookSet, id uuid.UUID, opts []CallOption) (*Response, error) {
	return c.do(ctx, request{method: http.MethodDelete, path: w.path(id, ""), scoped: w.scoped}, nil, opts)
}

func webhookRotate(c *Client, ctx context.Context, w webhookSet, id uuid.UUID, in api.RotateWebhookSecretRequest, opts []CallOption) (api.WebhookEndpointCreated, *Response, error) {
	var out api.WebhookEndpointCreated
	r, err := c.do(ctx, request{method: http.MethodPost, path: w.path(id, "/rotate-secret"), body: in, scoped: w.scoped}, &out, opts)
	return out, r, err
}

func webhookDeliveries(c *Client, ctx context.Context, w webhookSet, id uuid.UUID, page PageParams, opts []CallOption) (api.WebhookDeliveryList, *Response, error) {
	var out api.WebhookDeliveryList
	r, err := c.do(ctx, request{method: http.MethodGet, path: w.path(id, "/deliveries"), query: page.query(), scoped: w.scoped}, &out, opts)
	return out, r, err
}

func webhookRedeliver(c *Client, ctx context.Context, w webhookSet, id uuid.UUID, seq int64, q url.Values, opts []CallOption) (api.WebhookRedelivery, *Response, error) {
	var out api.WebhookRedelivery
	r, err := c.do(ctx, request{method: http.MethodPost, path: w.path(id, "/deliveries/"+strconv.FormatInt(seq, 10)+"/redeliver"), query: q, scoped: w.scoped}, &out, opts)
	return out, r, err
}

// ListWebhookEndpoints is listWebhookEndpoints: the tenant's endpoints, without secrets.
func (c *Client) ListWebhookEndpoints(ctx context.Context, opts ...CallOption) (api.WebhookEndpointList, *Response, error) {
	return webhookList(c, ctx, tenantWebhooks, opts)
}

// CreateWebhookEndpoint is createWebhookEndpoint: the answer holds the signing secret, shown once.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, in api.CreateWebhookEndpointRequest, opts ...CallOption) (api.WebhookEndpointCreated, *Response, error) {
	return webhookCreate(c, ctx, tenantWebhooks, in, opts)
}

// GetWebhookEndpoint is getWebhookEndpoint.
func (c *Client) GetWebhookEndpoint(ctx context.Context, id uuid.UUID, opts ...CallOption) (api.WebhookEndpoint, *Response, error) {
	return webhookGet(c, ctx, tenantWebhooks, id, opts)
}

// UpdateWebhookEndpoint is updateWebhookEndpoint (Status "enabled" re-enables it).
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, id uuid.UUID, in api.UpdateWebhookEndpointRequest, opts ...CallOption) (api.WebhookEndpoint, *Response, error) {
	return webhookUpdate(c, ctx, tenantWebhooks, id, in, opts)
}

// DeleteWebhookEndpoint is deleteWebhookEndpoint.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id uuid.UUID, opts ...CallOption) (*Response, error) {
	return webhookDelete(c, ctx, tenantWebhooks, id, opts)
}

// RotateWebhookSecret is rotateWebhookSecret: the new secret, shown once.
func (c *Client) RotateWebhookSecret(ctx context.Context, id uuid.UUID, in api.RotateWebhookSecretRequest, opts ...CallOption) (api.WebhookEndpointCreated, *Response, error) {
	return webhookRotate(c, ctx, tenantWebhooks, id, in, opts)
}

// ListWebhookDeliveries is listWebhookDeliveries: one page of the endpoint's log, newest first.
func (c *Client) ListWebhookDeliveries(ctx context.Context, id uuid.UUID, page PageParams, opts ...CallOption) (api.WebhookDeliveryList, *Response, error) {
	return webhookDeliveries(c, ctx, tenantWebhooks, id, page, opts)
}

// RedeliverWebhook is redeliverWebhook: event seq of the tenant, queued again.
func (c *Client) RedeliverWebhook(ctx context.Context, id uuid.UUID, seq int64, opts ...CallOption) (api.WebhookRedelivery, *Response, error) {
	return webhookRedeliver(c, ctx, tenantWebhooks, id, seq, nil, opts)
}

// ListAdminWebhookEndpoints is listAdminWebhookEndpoints (operator).
func (c *Client) ListAdminWebhookEndpoints(ctx context.Context, opts ...CallOption) (api.WebhookEndpointList, *Response, error) {
	return webhookList(c, ctx, operatorWebhooks, opts)
}

// CreateAdminWebhookEndpoint is createAdminWebhookEndpoint (operator): every tenant's events.
func (c *Client) CreateAdminWebhookEndpoint(ctx context.Context, in api.CreateWebhookEndpointRequest, opts ...CallOption) (api.WebhookEndpointCreated, *Response, error) {
	return webhookCreate(c, ctx, operatorWebhooks, in, opts)
}

// GetAdminWebhookEndpoint is getAdminWebhookEndpoint (operator).
func (c *Client) GetAdminWebhookEndpoint(ctx context.Context, id uuid.UUID, opts ...CallOption) (api.WebhookEndpoint, *Response, error) {
	return webhookGet(c, ctx, operatorWebhooks, id, opts)
}

// UpdateAdminWebhookEndpoint is updateAdminWebhookEndpoint (operator).
func (c *Client) UpdateAdminWebhookEndpoint(ctx context.Context, id uuid.UUID, in api.UpdateWebhookEndpointRequest, opts ...CallOption) (api.WebhookEndpoint, *Response, error) {
	return webhookUpdate(c, ctx, operatorWebhooks, id, in, opts)
}

// DeleteAdminWebhookEndpoint is deleteAdminWebhookEndpoint (operator).
func (c *Client) DeleteAdminWebhookEndpoint(ctx context.Context, id uuid.UUID, opts ...CallOption) (*Response, error) {
	return webhookDelete(c, ctx, operatorWebhooks, id, opts)
}

// RotateAdminWebhookSecret is rotateAdminWebhookSecret (operator).
func (c *Client) RotateAdminWebhookSecret(ctx context.Context, id uuid.UUID, in api.RotateWebhookSecretRequest, opts ...CallOption) (api.WebhookEndpointCreated, *Response, error) {
	return webhookRotate(c, ctx, operatorWebhooks, id, in, opts)
}

// ListAdminWebhookDeliveries is listAdminWebhookDeliveries (operator).
func (c *Client) ListAdminWebhookDeliveries(ctx context.Context, id uuid.UUID, page PageParams, opts ...CallOption) (api.WebhookDeliveryList, *Response, error) {
	return webhookDeliveries(c, ctx, operatorWebhooks, id, page, opts)
}

// RedeliverAdminWebhook is redeliverAdminWebhook (operator): event seq of tenant, queued again.
func (c *Client) RedeliverAdminWebhook(ctx context.Context, id, tenant uuid.UUID, seq int64, opts ...CallOption) (api.WebhookRedelivery, *Response, error) {
	return webhookRedeliver(c, ctx, operatorWebhooks, id, seq, url.Values{"tenant_id": {tenant.String()}}, opts)
}
