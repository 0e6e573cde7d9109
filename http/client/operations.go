package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/http/api"
)

// One method per operation of the route table (http/routes.go), named after its
// operationId; TestClient_HasAMethodForEveryOperation keeps them in step.

// GetHealth is getHealth: the process is live.
func (c *Client) GetHealth(ctx context.Context, opts ...CallOption) (api.Status, *Response, error) {
	var out api.Status
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz"}, &out, opts)
	return out, r, err
}

// GetReadiness is getReadiness: the database answers (a 503 is an *Error).
func (c *Client) GetReadiness(ctx context.Context, opts ...CallOption) (api.Status, *Response, error) {
	var out api.Status
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/readyz"}, &out, opts)
	return out, r, err
}

// GetMetrics is getMetrics: the process's metrics, Prometheus text format.
func (c *Client) GetMetrics(ctx context.Context, opts ...CallOption) (string, *Response, error) {
	var out string
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/metrics", accept: "text/plain"}, &out, opts)
	return out, r, err
}

// GetOpenAPIDocument is getOpenAPIDocument: the OpenAPI 3.1 document, as JSON.
func (c *Client) GetOpenAPIDocument(ctx context.Context, opts ...CallOption) ([]byte, *Response, error) {
	var out []byte
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/openapi.json"}, &out, opts)
	return out, r, err
}

// CreateTenant is createTenant: a tenant with its first admin and the admin's API key
// (the secret is in this answer only). Needs the operator token unless signup is open.
func (c *Client) CreateTenant(ctx context.Context, in api.CreateTenantRequest, opts ...CallOption) (api.TenantCreated, *Response, error) {
	var out api.TenantCreated
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/tenants", body: in}, &out, opts)
	return out, r, err
}

// GetTenant is getTenant: the tenant's profile (WithMinSeq reads a write).
func (c *Client) GetTenant(ctx context.Context, opts ...CallOption) (api.Profile, *Response, error) {
	var out api.Profile
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/tenant", scoped: true}, &out, opts)
	return out, r, err
}

// UpdateTenant is updateTenant: renames the tenant.
func (c *Client) UpdateTenant(ctx context.Context, in api.UpdateTenantRequest, opts ...CallOption) (api.TenantChange, *Response, error) {
	var out api.TenantChange
	r, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/tenant", body: in, scoped: true}, &out, opts)
	return out, r, err
}

// ChangePlan is changePlan: moves the tenant to another plan.
func (c *Client) ChangePlan(ctx context.Context, in api.ChangePlanRequest, opts ...CallOption) (api.TenantChange, *Response, error) {
	var out api.TenantChange
	r, err := c.do(ctx, request{method: http.MethodPut, path: "/v1/tenant/plan", body: in, scoped: true}, &out, opts)
	return out, r, err
}

// PageParams picks one page of a list: Cursor is the previous page's next_cursor ("" for
// the first page), Limit the page size (0: the server's default).
type PageParams struct {
	Cursor string
	Limit  int
}

func (p PageParams) query() url.Values {
	q := url.Values{}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	return q
}

// ListMembers is listMembers: one page of the tenant's members, by id.
func (c *Client) ListMembers(ctx context.Context, page PageParams, opts ...CallOption) (api.MemberList, *Response, error) {
	var out api.MemberList
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/members", query: page.query(), scoped: true}, &out, opts)
	return out, r, err
}

// InviteMember is inviteMember: the answer holds the invitation token (shown once) to
// pass to the invitee, who accepts it with AcceptInvitation.
func (c *Client) InviteMember(ctx context.Context, in api.InviteRequest, opts ...CallOption) (api.MemberInvited, *Response, error) {
	var out api.MemberInvited
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/members", body: in, scoped: true}, &out, opts)
	return out, r, err
}

// UpdateMember is updateMember: gives a member another role.
func (c *Client) UpdateMember(ctx context.Context, member uuid.UUID, in api.UpdateMemberRequest, opts ...CallOption) (api.MemberChange, *Response, error) {
	var out api.MemberChange
	r, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/members/" + member.String(), body: in, scoped: true}, &out, opts)
	return out, r, err
}

// RemoveMember is removeMember: removes a member (their keys and invitations are revoked).
func (c *Client) RemoveMember(ctx context.Context, member uuid.UUID, opts ...CallOption) (api.MemberRemoved, *Response, error) {
	var out api.MemberRemoved
	r, err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/members/" + member.String(), scoped: true}, &out, opts)
	return out, r, err
}

// ListInvitations is listInvitations: one page of the pending invitations, by id.
func (c *Client) ListInvitations(ctx context.Context, page PageParams, opts ...CallOption) (api.InvitationList, *Response, error) {
	var out api.InvitationList
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/invitations", query: page.query(), scoped: true}, &out, opts)
	return out, r, err
}

// RevokeInvitation is revokeInvitation: withdraws a pending invitation (204).
func (c *Client) RevokeInvitation(ctx context.Context, invitation uuid.UUID, opts ...CallOption) (*Response, error) {
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/invitations/" + invitation.String(), scoped: true}, nil, opts)
}

// AcceptInvitation is acceptInvitation: the token in the body is the credential (the
// client's token is not sent); the answer holds the new member's API key.
func (c *Client) AcceptInvitation(ctx context.Context, in api.AcceptInvitationRequest, opts ...CallOption) (api.InvitationAccepted, *Response, error) {
	var out api.InvitationAccepted
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/invitations/accept", body: in, scoped: true, noAuth: true}, &out, opts)
	return out, r, err
}

// ListAPIKeys is listApiKeys: one page of the tenant's API keys, without secrets.
func (c *Client) ListAPIKeys(ctx context.Context, page PageParams, opts ...CallOption) (api.APIKeyList, *Response, error) {
	var out api.APIKeyList
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/api-keys", query: page.query(), scoped: true}, &out, opts)
	return out, r, err
}

// CreateAPIKey is createApiKey: the answer holds the key's secret, shown once.
func (c *Client) CreateAPIKey(ctx context.Context, in api.CreateAPIKeyRequest, opts ...CallOption) (api.APIKeyCreated, *Response, error) {
	var out api.APIKeyCreated
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/api-keys", body: in, scoped: true}, &out, opts)
	return out, r, err
}

// RevokeAPIKey is revokeApiKey: the key stops working before the answer.
func (c *Client) RevokeAPIKey(ctx context.Context, key uuid.UUID, opts ...CallOption) (api.APIKeyRevoked, *Response, error) {
	var out api.APIKeyRevoked
	r, err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/api-keys/" + key.String(), scoped: true}, &out, opts)
	return out, r, err
}

// RecordUsage is recordUsage: 1 to 1,000 records, sent as a batch. A record whose
// idempotency_key the tenant sent before is counted once (Duplicates); WithIdempotencyKey
// makes the whole request safe to repeat.
func (c *Client) RecordUsage(ctx context.Context, in api.UsageBatch, opts ...CallOption) (api.UsageRecorded, *Response, error) {
	var out api.UsageRecorded
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/usage", body: in, scoped: true}, &out, opts)
	return out, r, err
}

// UsageQuery selects the usage GetUsage answers; zero fields take the server's defaults.
type UsageQuery struct {
	Metric      string    // one metric (default: all)
	From, To    time.Time // the range [From, To)
	Granularity string    // "hour" (default) or "day"
}

// GetUsage is getUsage: usage per metric and hour or day over a range.
func (c *Client) GetUsage(ctx context.Context, in UsageQuery, opts ...CallOption) (api.Usage, *Response, error) {
	q := url.Values{}
	if in.Metric != "" {
		q.Set("metric", in.Metric)
	}
	if !in.From.IsZero() {
		q.Set("from", in.From.Format(time.RFC3339Nano))
	}
	if !in.To.IsZero() {
		q.Set("to", in.To.Format(time.RFC3339Nano))
	}
	if in.Granularity != "" {
		q.Set("granularity", in.Granularity)
	}
	var out api.Usage
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/usage", query: q, scoped: true}, &out, opts)
	return out, r, err
}

// GetBilling is getBilling: the plan, the link to Stripe and the reconciliation per metric
// and month; period is the month (any instant in it, read in UTC) or the zero time for the
// months whose usage can still change.
func (c *Client) GetBilling(ctx context.Context, period time.Time, opts ...CallOption) (api.Billing, *Response, error) {
	q := url.Values{}
	if !period.IsZero() {
		p := period.UTC()
		q.Set("period", time.Date(p.Year(), p.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
	}
	var out api.Billing
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/billing", query: q, scoped: true}, &out, opts)
	return out, r, err
}

// VerifyAuditChain is verifyAuditChain: re-hashes the tenant's chain (a 429's
// Error.RetryAfter says when the budget allows another).
func (c *Client) VerifyAuditChain(ctx context.Context, opts ...CallOption) (api.ChainReport, *Response, error) {
	var out api.ChainReport
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/audit/verify", scoped: true}, &out, opts)
	return out, r, err
}

// GetAuditState is getAuditState: the tenant replayed from its events as of an instant
// (the zero time: now).
func (c *Client) GetAuditState(ctx context.Context, asOf time.Time, opts ...CallOption) (api.AuditState, *Response, error) {
	q := url.Values{}
	if !asOf.IsZero() {
		q.Set("as_of", asOf.Format(time.RFC3339Nano))
	}
	var out api.AuditState
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/audit/state", query: q, scoped: true}, &out, opts)
	return out, r, err
}

// ListTenants is listTenants (operator): one page of the tenant directory, by id.
func (c *Client) ListTenants(ctx context.Context, page PageParams, opts ...CallOption) (api.TenantList, *Response, error) {
	var out api.TenantList
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/admin/tenants", query: page.query()}, &out, opts)
	return out, r, err
}

func adminPath(tenant, action string) string {
	return "/v1/admin/tenants/" + url.PathEscape(tenant) + "/" + action
}

// SuspendTenant is suspendTenant (operator): reads and billing still work, other writes
// answer 403. tenant is the tenant's slug or id.
func (c *Client) SuspendTenant(ctx context.Context, tenant string, in api.SuspendRequest, opts ...CallOption) (api.TenantChange, *Response, error) {
	var out api.TenantChange
	r, err := c.do(ctx, request{method: http.MethodPost, path: adminPath(tenant, "suspend"), body: in}, &out, opts)
	return out, r, err
}

// ReactivateTenant is reactivateTenant (operator): tenant is the tenant's slug or id.
func (c *Client) ReactivateTenant(ctx context.Context, tenant string, opts ...CallOption) (api.TenantChange, *Response, error) {
	var out api.TenantChange
	r, err := c.do(ctx, request{method: http.MethodPost, path: adminPath(tenant, "reactivate"), body: api.ReactivateRequest{}}, &out, opts)
	return out, r, err
}

// CloseTenant is closeTenant (operator): closes the tenant (slug or id) for good (then
// 410 for it).
func (c *Client) CloseTenant(ctx context.Context, tenant string, in api.CloseRequest, opts ...CallOption) (api.TenantChange, *Response, error) {
	var out api.TenantChange
	r, err := c.do(ctx, request{method: http.MethodPost, path: adminPath(tenant, "close"), body: in}, &out, opts)
	return out, r, err
}

// ReceiveStripeWebhook is receiveStripeWebhook: Stripe's delivery, payload as Stripe
// signed it and signature its Stripe-Signature header. For tools that forward or replay
// deliveries; the client's token is not sent.
func (c *Client) ReceiveStripeWebhook(ctx context.Context, payload []byte, signature string, opts ...CallOption) (api.WebhookReceipt, *Response, error) {
	var out api.WebhookReceipt
	opts = append(opts, WithHeader("Stripe-Signature", signature))
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/webhooks/stripe", raw: payload, contentType: "application/json", noAuth: true}, &out, opts)
	return out, r, err
}

// IntrospectAPIKey is introspectApiKey: whether a tenant API key is active and, if so,
// what it stands for. The client's token (WithToken) must be the introspection service
// token; an inactive key is an answer (Active false), not an error. Reuse an answer no
// longer than its Cache-Control allows (Response.Header).
func (c *Client) IntrospectAPIKey(ctx context.Context, in api.IntrospectionRequest, opts ...CallOption) (api.Introspection, *Response, error) {
	var out api.Introspection
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/introspect", body: in}, &out, opts)
	return out, r, err
}

// ListEvents is listEvents: one page of the tenant's events after page.Cursor, in seq
// order. A wait above zero (whole seconds, at most 30) holds a page that would be empty
// until the tenant records an event or the wait passes; the page's NextCursor, set on the
// last page too, is where to wait from next.
func (c *Client) ListEvents(ctx context.Context, page PageParams, wait time.Duration, opts ...CallOption) (api.EventList, *Response, error) {
	q := page.query()
	if s := int(wait / time.Second); s > 0 {
		q.Set("wait", strconv.Itoa(s))
	}
	var out api.EventList
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/events", query: q, scoped: true}, &out, opts)
	return out, r, err
}
