package httpapi

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
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
)

func (a access) String() string {
	return map[access]string{public: "anyone", operator: "operator", signup: "operator (anyone when signup is open)",
		member: "member", invitee: "invitation holder", stripe: "Stripe (signed)"}[a]
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
	handler      func(*gin.Context, *call)
	doc          op
}

// allows reports whether role may call the route.
func (rt route) allows(role domain.Role) bool { return slices.Contains(rt.roles, role) }

// routes is every route of the API.
func (s *Server) routes() []route {
	return []route{
		{method: "GET", path: "/healthz", access: public, handler: s.healthz, doc: docHealthz},
		{method: "GET", path: "/readyz", access: public, handler: s.readyz, doc: docReadyz},
		{method: "GET", path: "/metrics", access: public, handler: s.metricsHandler, doc: docMetrics},
		{method: "GET", path: "/openapi.json", access: public, handler: s.openAPI, doc: docOpenAPI},

		{method: "POST", path: "/v1/tenants", access: signup, handler: s.createTenant, doc: docCreateTenant},
		{method: "GET", path: "/v1/tenant", access: member, roles: allRoles, scoped: true, handler: s.getTenant, doc: docGetTenant},
		{method: "PATCH", path: "/v1/tenant", access: member, roles: admin, scoped: true, handler: s.patchTenant, doc: docPatchTenant},
		{method: "PUT", path: "/v1/tenant/plan", access: member, roles: billers, scoped: true, billing: true, handler: s.putPlan, doc: docPutPlan},

		{method: "GET", path: "/v1/members", access: member, roles: allRoles, scoped: true, handler: s.listMembers, doc: docListMembers},
		{method: "POST", path: "/v1/members", access: member, roles: admin, scoped: true, handler: s.inviteMember, doc: docInviteMember},
		{method: "PATCH", path: "/v1/members/:id", access: member, roles: admin, scoped: true, handler: s.patchMember, doc: docPatchMember},
		{method: "DELETE", path: "/v1/members/:id", access: member, roles: admin, scoped: true, handler: s.deleteMember, doc: docDeleteMember},
		{method: "GET", path: "/v1/invitations", access: member, roles: admin, scoped: true, handler: s.listInvitations, doc: docListInvitations},
		{method: "DELETE", path: "/v1/invitations/:id", access: member, roles: admin, scoped: true, handler: s.revokeInvitation, doc: docRevokeInvitation},
		{method: "POST", path: "/v1/invitations/accept", access: invitee, scoped: true, handler: s.acceptInvitation, doc: docAcceptInvitation},

		{method: "GET", path: "/v1/api-keys", access: member, roles: admin, scoped: true, handler: s.listAPIKeys, doc: docListAPIKeys},
		{method: "POST", path: "/v1/api-keys", access: member, roles: admin, scoped: true, handler: s.createAPIKey, doc: docCreateAPIKey},
		{method: "DELETE", path: "/v1/api-keys/:id", access: member, roles: admin, scoped: true, handler: s.revokeAPIKey, doc: docRevokeAPIKey},

		{method: "POST", path: "/v1/usage", access: member, roles: writers, scoped: true, handler: s.postUsage, doc: docPostUsage},
		{method: "GET", path: "/v1/usage", access: member, roles: allRoles, scoped: true, handler: s.getUsage, doc: docGetUsage},

		{method: "GET", path: "/v1/billing", access: member, roles: billers, scoped: true, billing: true, handler: s.getBilling, doc: docGetBilling},

		{method: "GET", path: "/v1/audit/events", access: member, roles: auditors, scoped: true, handler: s.auditEvents, doc: docAuditEvents},
		{method: "GET", path: "/v1/audit/verify", access: member, roles: auditors, scoped: true, handler: s.auditVerify, doc: docAuditVerify},
		{method: "GET", path: "/v1/audit/state", access: member, roles: auditors, scoped: true, handler: s.auditState, doc: docAuditState},

		{method: "GET", path: "/v1/admin/tenants", access: operator, handler: s.adminListTenants, doc: docAdminListTenants},
		{method: "POST", path: "/v1/admin/tenants/:tenant/suspend", access: operator, handler: s.adminSuspend, doc: docAdminSuspend},
		{method: "POST", path: "/v1/admin/tenants/:tenant/reactivate", access: operator, handler: s.adminReactivate, doc: docAdminReactivate},
		{method: "POST", path: "/v1/admin/tenants/:tenant/close", access: operator, handler: s.adminClose, doc: docAdminClose},

		{method: "POST", path: "/v1/webhooks/stripe", access: stripe, handler: s.stripeWebhook, doc: docStripeWebhook},
	}
}
