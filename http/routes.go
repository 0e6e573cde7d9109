package httpapi

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/http/api"
)

// access says who may call a route.
type access int

const (
	public   access = iota + 1 // anyone
	operator                   // the operator token
	signup                     // the operator token, or anyone when signup is open
	member                     // a tenant API key whose role is in route.roles
	invitee                    // the holder of an invitation token (in the body)
	stripe                     // Stripe, proven by the webhook signature
	service                    // the introspection service token (TENANTRY_INTROSPECTION_TOKEN)
)

func (a access) String() string {
	return map[access]string{public: "anyone", operator: "operator", signup: "operator (anyone when signup is open)",
		member: "member", invitee: "invitation holder", stripe: "Stripe (signed)", service: "service token"}[a]
}

var (
	allRoles  = domain.Roles()
	admin     = []domain.Role{domain.RoleAdmin}
	writers   = []domain.Role{domain.RoleAdmin, domain.RoleEditor}
	billers   = []domain.Role{domain.RoleAdmin, domain.RoleBillingManager}
	auditors  = []domain.Role{domain.RoleAdmin, domain.RoleAuditor}
	writeVerb = map[string]bool{http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true}
)

// route is one row of the API: the permission table, the router and the OpenAPI document
// are all built from the list in routes, so they cannot disagree.
type route struct {
	method, path string
	access       access
	roles        []domain.Role // for member routes
	scoped       bool          // tenant-scoped: also under /v1/workspaces/{slug}
	billing      bool          // allowed while the tenant is suspended, as are reads
	readOnly     bool          // a POST that writes nothing (a question in a body): no Idempotency-Key, allowed while suspended
	handler      func(*gin.Context, *call)
	doc          op
	product      string // the module whose product declares the route ("" for Tenantry's own)
}

// takesIdempotencyKey reports whether the route honours Idempotency-Key: POSTs, except
// Stripe's deliveries and introspection (which writes nothing).
func (rt route) takesIdempotencyKey() bool {
	return rt.method == http.MethodPost && rt.access != stripe && rt.access != service && !rt.readOnly
}

// allows reports whether role may call the route.
func (rt route) allows(role domain.Role) bool { return slices.Contains(rt.roles, role) }

// routes is every route of the API: Tenantry's own (the membership routes declared as the
// built-in product of module.Core, in their place), then the products' (Deps.Products).
func (s *Server) routes() []route {
	rts := []route{
		{method: "GET", path: "/healthz", access: public, handler: s.healthz, doc: docHealthz},
		{method: "GET", path: "/readyz", access: public, handler: s.readyz, doc: docReadyz},
		{method: "GET", path: "/metrics", access: public, handler: s.metricsHandler, doc: docMetrics},
		{method: "GET", path: "/openapi.json", access: public, handler: s.openAPI, doc: docOpenAPI},

		{method: "POST", path: "/v1/tenants", access: signup, handler: s.createTenant, doc: docCreateTenant},
		{method: "GET", path: "/v1/tenant", access: member, roles: allRoles, scoped: true, handler: s.getTenant, doc: docGetTenant},
		{method: "PATCH", path: "/v1/tenant", access: member, roles: admin, scoped: true, handler: s.patchTenant, doc: docPatchTenant},
		{method: "PUT", path: "/v1/tenant/plan", access: member, roles: billers, scoped: true, billing: true, handler: s.putPlan, doc: docPutPlan},
	}
	members := s.membersProduct()
	for _, rt := range members.Routes {
		rts = append(rts, s.productRoute(members, rt))
	}
	rts = append(rts, []route{
		{method: "GET", path: "/v1/invitations", access: member, roles: admin, scoped: true, handler: s.listInvitations, doc: docListInvitations},
		{method: "DELETE", path: "/v1/invitations/:id", access: member, roles: admin, scoped: true, handler: s.revokeInvitation, doc: docRevokeInvitation},
		{method: "POST", path: "/v1/invitations/accept", access: invitee, scoped: true, handler: s.acceptInvitation, doc: docAcceptInvitation},

		{method: "GET", path: "/v1/api-keys", access: member, roles: admin, scoped: true, handler: s.listAPIKeys, doc: docListAPIKeys},
		{method: "POST", path: "/v1/api-keys", access: member, roles: admin, scoped: true, handler: s.createAPIKey, doc: docCreateAPIKey},
		{method: "DELETE", path: "/v1/api-keys/:id", access: member, roles: admin, scoped: true, handler: s.revokeAPIKey, doc: docRevokeAPIKey},

		{method: "POST", path: "/v1/usage", access: member, roles: writers, scoped: true, handler: s.postUsage, doc: docPostUsage},
		{method: "GET", path: "/v1/usage", access: member, roles: allRoles, scoped: true, handler: s.getUsage, doc: docGetUsage},

		{method: "GET", path: "/v1/entitlements", access: member, roles: allRoles, scoped: true, handler: s.getEntitlements, doc: docGetEntitlements},
		{method: "POST", path: "/v1/entitlements/check", access: member, roles: allRoles, scoped: true, readOnly: true, handler: s.checkEntitlement, doc: docCheckEntitlement},

		{method: "GET", path: "/v1/billing", access: member, roles: billers, scoped: true, billing: true, handler: s.getBilling, doc: docGetBilling},

		{method: "GET", path: "/v1/audit/events", access: member, roles: auditors, scoped: true, handler: s.auditEvents, doc: docAuditEvents},
		{method: "GET", path: "/v1/audit/verify", access: member, roles: auditors, scoped: true, handler: s.auditVerify, doc: docAuditVerify},
		{method: "GET", path: "/v1/audit/state", access: member, roles: auditors, scoped: true, handler: s.auditState, doc: docAuditState},

		{method: "GET", path: "/v1/events", access: member, roles: auditors, scoped: true, handler: s.eventFeed, doc: docEventFeed},
		{method: "POST", path: "/v1/introspect", access: service, handler: s.introspect, doc: docIntrospect},

		{method: "GET", path: "/v1/admin/tenants", access: operator, handler: s.adminListTenants, doc: docAdminListTenants},
		{method: "POST", path: "/v1/admin/tenants/:tenant/suspend", access: operator, handler: s.adminSuspend, doc: docAdminSuspend},
		{method: "POST", path: "/v1/admin/tenants/:tenant/reactivate", access: operator, handler: s.adminReactivate, doc: docAdminReactivate},
		{method: "POST", path: "/v1/admin/tenants/:tenant/close", access: operator, handler: s.adminClose, doc: docAdminClose},
		{method: "GET", path: "/v1/admin/plans", access: operator, handler: s.adminListPlans, doc: docAdminListPlans},
		{method: "GET", path: "/v1/admin/plans/:key", access: operator, handler: s.adminGetPlan, doc: docAdminGetPlan},
		{method: "POST", path: "/v1/admin/plans/:key/migrate-tenants", access: operator, handler: s.adminMigrateTenants, doc: docAdminMigrateTenants},
		{method: "PUT", path: "/v1/admin/catalog", access: operator, handler: s.adminApplyCatalog, doc: docAdminApplyCatalog},

		{method: "POST", path: "/v1/webhooks/stripe", access: stripe, handler: s.stripeWebhook, doc: docStripeWebhook},
	}...)
	rts = append(rts, s.webhookEndpointRoutes()...)
	for _, p := range s.d.Products {
		for _, rt := range p.Routes {
			rts = append(rts, s.productRoute(p, rt))
		}
	}
	return rts
}

// The routes' documentation: operation id, tag, summary, description, query parameters,
// and the api types of their bodies. Error statuses are derived (errorStatuses) plus the
// ones listed here that only the handler answers.
var (
	docHealthz = op{id: "getHealth", tag: "System", summary: "Liveness", result: api.Status{},
		desc: "Answers 200 {\"status\":\"ok\"} while the process serves requests; it checks nothing else."}
	docReadyz = op{id: "getReadiness", tag: "System", summary: "Readiness", result: api.Status{}, errors: []int{503},
		desc: "Answers 200 {\"status\":\"ready\"} when the database answers, 503 when it does not."}
	docMetrics = op{id: "getMetrics", tag: "System", summary: "Prometheus metrics", media: "text/plain", result: textResult,
		desc: "The process's metrics in the Prometheus text format (requests by route and status, rate limiting, Stripe deliveries, ...)."}
	docOpenAPI = op{id: "getOpenAPIDocument", tag: "System", summary: "This OpenAPI document", result: map[string]any{},
		desc: "This document: OpenAPI 3.1, derived from the API's Go types (package http/api) and its route table."}

	docCreateTenant = op{id: "createTenant", tag: "Tenants", summary: "Create a tenant", status: 201,
		body: api.CreateTenantRequest{}, result: api.TenantCreated{}, errors: []int{409},
		desc: "Creates a tenant with its first admin and the admin's API key (its secret is shown only in this answer). " +
			"Needs the operator token unless signup is open (TENANTRY_OPEN_SIGNUP). A taken slug answers 409."}
	docGetTenant = op{id: "getTenant", tag: "Tenants", summary: "Get the tenant's profile", query: []param{minSeqP}, result: api.Profile{},
		desc: "The tenant's profile: name, slug, plan, status (with the suspension's reason and note while suspended)."}
	docPatchTenant = op{id: "updateTenant", tag: "Tenants", summary: "Rename the tenant", body: api.UpdateTenantRequest{}, result: api.TenantChange{},
		errors: []int{409}, desc: "Changes the tenant's display name (its slug never changes)."}
	docPutPlan = op{id: "changePlan", tag: "Tenants", summary: "Change the tenant's plan", body: api.ChangePlanRequest{}, result: api.TenantChange{},
		errors: []int{409, 422}, desc: "Moves the tenant to another plan. A billing route: allowed while the tenant is suspended (it stays suspended). " +
			"A plan whose limits the tenant already exceeds answers 422."}

	docAcceptInvitation = op{id: "acceptInvitation", tag: "Invitations", summary: "Accept an invitation", status: 201,
		body: api.AcceptInvitationRequest{}, result: api.InvitationAccepted{},
		desc: "Turns an invitation into a member with their first API key (its secret is shown only in this answer). The token in " +
			"the body is the credential: a token that is not valid answers 401, an invitation that cannot be accepted 404 " +
			"(revoked, accepted, expired or of another tenant than the one the request names)."}

	docListInvitations = op{id: "listInvitations", tag: "Invitations", summary: "List pending invitations",
		query: []param{minSeqP, cursorP, limitP(domain.MaxPageLimit)}, result: api.InvitationList{},
		desc: "Invitations that can still be accepted (pending, not expired), by id, a page at a time; never their tokens."}
	docRevokeInvitation = op{id: "revokeInvitation", tag: "Invitations", summary: "Revoke an invitation", status: 204, errors: []int{409},
		desc: "Withdraws a pending invitation: 204. An id this tenant never issued answers 404; one accepted or revoked already, 409."}

	docListAPIKeys = op{id: "listApiKeys", tag: "API keys", summary: "List the API keys", query: []param{minSeqP, cursorP, limitP(domain.MaxPageLimit)}, result: api.APIKeyList{},
		desc: "The tenant's API keys by id, revoked ones included, without their secrets, a page at a time."}
	docCreateAPIKey = op{id: "createApiKey", tag: "API keys", summary: "Create an API key", status: 201, body: api.CreateAPIKeyRequest{}, result: api.APIKeyCreated{},
		desc: "Mints an API key bound to a member (default: the caller's), with a role up to the member's. The secret is shown only in this answer."}
	docRevokeAPIKey = op{id: "revokeApiKey", tag: "API keys", summary: "Revoke an API key", result: api.APIKeyRevoked{}, errors: []int{409},
		desc: "Revokes an API key: it stops working before this answer. A revoked key answers 409."}

	docPostUsage = op{id: "recordUsage", tag: "Usage", summary: "Record usage", status: 202, body: api.UsageRequest{}, result: api.UsageRecorded{},
		desc: "Records one usage record, or a batch {\"records\": [...]} of up to 1,000. A record whose idempotency_key the tenant " +
			"sent before is counted once (a duplicate). Every invalid field is reported (at most 100). Sums that would exceed a " +
			"plan limit answer 422. Usage beyond a hard quota of the tenant's plan answers 403 quota-exceeded (its quota member " +
			"names the metric, the quota, the usage so far and the period's end): a counter's records are refused when the " +
			"period's sum would pass the quota (a batch whole; concurrent single records one by one, exactly at the boundary), " +
			"a gauge's reading when it is above the quota. A duplicate is always a duplicate, never refused. Soft and overage " +
			"quotas never refuse."}
	docGetUsage = op{id: "getUsage", tag: "Usage", summary: "Get usage series", errors: []int{422}, query: []param{
		{name: "metric", desc: "one metric (default: all)", schema: schema{"type": "string"}},
		{name: "from", desc: "the range's start, RFC 3339 (default: 24 hours, or 30 days at day granularity, before to)", schema: strf("date-time")},
		{name: "to", desc: "the range's end, exclusive, RFC 3339 (default: the end of the current bucket)", schema: strf("date-time")},
		{name: "granularity", desc: "bucket size: hour (range at most 31 days, the default) or day (at most 400 days)", schema: schema{"type": "string", "enum": []string{"hour", "day"}}},
		minSeqP}, result: api.Usage{},
		desc: "Usage per metric and hour or day over a range. An answer would hold more than 10,000 points: 422 (name one metric or narrow the range)."}

	docGetBilling = op{id: "getBilling", tag: "Billing", summary: "Get billing state and reconciliation",
		query:  []param{minSeqP, {name: "period", desc: "one month: its first instant, RFC 3339 UTC, e.g. 2026-12-01T00:00:00Z (default: the months whose usage can still change)", schema: strf("date-time")}},
		result: api.Billing{},
		desc: "The tenant's plan, status and link to Stripe, and usage recorded against usage reported to Stripe per metric and month. " +
			"A billing route: allowed while suspended."}

	docAuditEvents = op{id: "exportAuditEvents", tag: "Audit", summary: "Export the audit events", media: "application/x-ndjson", result: api.AuditLine{},
		headers: []string{"Tenantry-Has-More", "Tenantry-Next-Cursor"},
		query:   []param{cursorP, {name: "limit", desc: "at most this many events, 1 to 10,000 (the default)", schema: integerS(1, maxAuditPage)}},
		desc: "The tenant's events as NDJSON, one AuditEvent per line, a page at a time. The page that reaches the tenant's head (as of " +
			"the request) ends with one more line, an AuditHeadLine, signed when the server has a signing key (AUDIT.md). The " +
			"Tenantry-Has-More and Tenantry-Next-Cursor headers (the latter absent on the last page) say where the next page starts."}
	docAuditVerify = op{id: "verifyAuditChain", tag: "Audit", summary: "Verify the hash chain", result: api.ChainReport{},
		desc: "Re-hashes the tenant's stored chain and reports the first bad seq, if any. Expensive work is budgeted per tenant: 429 with Retry-After beyond it."}
	docAuditState = op{id: "getAuditState", tag: "Audit", summary: "Replay the tenant as of an instant",
		query:  []param{{name: "as_of", desc: "the instant, RFC 3339 (default: now)", schema: strf("date-time")}},
		result: api.AuditState{},
		desc: "The tenant, its members and usage totals as of an instant, rebuilt from its events alone. Before the tenant's creation, " +
			"tenant is null. Expensive work is budgeted per tenant: 429 with Retry-After beyond it."}

	docAdminListTenants = op{id: "listTenants", tag: "Admin", summary: "List the tenants",
		query: []param{cursorP, limitP(domain.MaxPageLimit)}, result: api.TenantList{},
		desc: "The tenant directory, by id, a page at a time."}
	docAdminSuspend = op{id: "suspendTenant", tag: "Admin", summary: "Suspend a tenant", body: api.SuspendRequest{}, result: api.TenantChange{}, errors: []int{404},
		desc: "Suspends a tenant (reads and billing still work, other writes answer 403). The body is optional. A closed tenant answers 409."}
	docAdminReactivate = op{id: "reactivateTenant", tag: "Admin", summary: "Reactivate a tenant", body: api.ReactivateRequest{}, result: api.TenantChange{}, errors: []int{404},
		desc: "Reactivates a suspended tenant. The body is optional (an empty object). A closed tenant answers 409."}
	docAdminClose = op{id: "closeTenant", tag: "Admin", summary: "Close a tenant", body: api.CloseRequest{}, result: api.TenantChange{}, errors: []int{404},
		desc: "Closes a tenant for good: every request for it then answers 410. The body is optional."}

	docStripeWebhook = op{id: "receiveStripeWebhook", tag: "Webhooks", summary: "Receive a Stripe delivery", body: api.StripeEvent{}, result: api.WebhookReceipt{},
		desc: "Stripe's webhook deliveries: the signature is checked (300 s tolerance) before anything is read; an unsigned, forged " +
			"or stale delivery answers 400. 503 when no webhook secret is configured."}
)
