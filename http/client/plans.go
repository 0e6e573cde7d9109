package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenantry/tenantry/http/api"
)

// ListPlans is listPlans (operator): every plan with its current version, and the metrics.
func (c *Client) ListPlans(ctx context.Context, opts ...CallOption) (api.PlanList, *Response, error) {
	var out api.PlanList
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/admin/plans"}, &out, opts)
	return out, r, err
}

// GetPlan is getPlan (operator): every version of one plan.
func (c *Client) GetPlan(ctx context.Context, key string, opts ...CallOption) (api.PlanHistory, *Response, error) {
	var out api.PlanHistory
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/admin/plans/" + url.PathEscape(key)}, &out, opts)
	return out, r, err
}

// ApplyOptions are applyCatalog's query parameters.
type ApplyOptions struct {
	// DryRun answers the difference and writes nothing.
	DryRun bool
	// CatalogVersion, when set, applies only if the catalog is still at it (409 otherwise).
	CatalogVersion *int64
}

// ApplyCatalog is applyCatalog (operator): makes the catalog equal to doc.
func (c *Client) ApplyCatalog(ctx context.Context, doc api.CatalogDocument, o ApplyOptions, opts ...CallOption) (api.CatalogApplied, *Response, error) {
	q := url.Values{}
	if o.DryRun {
		q.Set("dry_run", "true")
	}
	if o.CatalogVersion != nil {
		q.Set("catalog_version", strconv.FormatInt(*o.CatalogVersion, 10))
	}
	var out api.CatalogApplied
	r, err := c.do(ctx, request{method: http.MethodPut, path: "/v1/admin/catalog", query: q, body: doc}, &out, opts)
	return out, r, err
}

// MigrateTenants is migrateTenants (operator): moves a plan's tenants to another version.
func (c *Client) MigrateTenants(ctx context.Context, key string, in api.MigrateTenantsRequest, opts ...CallOption) (api.TenantsMigrated, *Response, error) {
	var out api.TenantsMigrated
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/plans/" + url.PathEscape(key) + "/migrate-tenants", body: in}, &out, opts)
	return out, r, err
}
