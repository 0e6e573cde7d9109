package client

import (
	"context"
	"net/http"

	"github.com/tenantry/tenantry/http/api"
)

// GetEntitlements is getEntitlements: the features of the tenant's plan version and, per
// metered metric, its quota, usage in the current period and what remains (WithMinSeq
// waits until the usage includes a write).
func (c *Client) GetEntitlements(ctx context.Context, opts ...CallOption) (api.Entitlements, *Response, error) {
	var out api.Entitlements
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/entitlements", scoped: true}, &out, opts)
	return out, r, err
}

// CheckEntitlement is checkEntitlement: whether the tenant's plan allows a feature, or a
// quantity more of a metric, now, and why.
func (c *Client) CheckEntitlement(ctx context.Context, in api.EntitlementCheckRequest, opts ...CallOption) (api.EntitlementCheck, *Response, error) {
	var out api.EntitlementCheck
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/entitlements/check", body: in, scoped: true}, &out, opts)
	return out, r, err
}
