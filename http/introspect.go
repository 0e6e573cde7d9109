package httpapi

import (
	"crypto/subtle"
	"maps"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/http/api"
)

// API key introspection (POST /v1/introspect, issue 19): a product beside Tenantry asks,
// with the service token the operator configured, what a tenant API key stands for. The
// key is looked up exactly as Tenantry's own routes authenticate it (resolveKey, through
// credCache), so a revocation, a removal or a suspension reaches introspection within the
// same bound as Tenantry's API. Suspended tenants' keys stay active, as they still read on
// Tenantry's API: the answer says tenant.status "suspended" and the product decides what to
// serve; a closed tenant's keys are inactive (Tenantry answers 410 for them).
//
// Failures are limited per client twice: a wrong service token spends the client's
// authentication failures as a wrong operator token does (admitCredential), and an
// inactive answer for a key not already known bad spends a budget of its own per client
// (introspectFailKey), after which keys are answered 429 unless this process holds them as
// valid, so that a product's traffic with a few bad keys never locks out its good ones.

// introspectFailKey names the client's introspection failures in authFailures.
func introspectFailKey(c *gin.Context) string { return "introspect:" + clientKey(c) }

// introspectMaxAge is the Cache-Control max-age of an introspection answer: the bound
// within which a change of authorisation state made through another replica reaches a
// cached credential (credTTL), which every answer may already lag by.
var introspectMaxAge = int(math.Ceil(credTTL.Seconds()))

func (s *Server) isService(token string) bool {
	return s.d.IntrospectionToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.d.IntrospectionToken)) == 1
}

func (s *Server) introspect(c *gin.Context, cl *call) {
	if s.d.IntrospectionToken == "" {
		// A feature the operator did not enable, not a failure of the server: 404, as for a
		// route this server does not serve.
		fail(c, http.StatusNotFound, "not-found", "API key introspection is not enabled on this server (TENANTRY_INTROSPECTION_TOKEN is unset)")
		return
	}
	token := bearer(c)
	if token == "" {
		fail(c, http.StatusUnauthorized, "unauthenticated", "this route needs the introspection service token as a bearer credential")
		return
	}
	if !s.admitCredential(c, secretSum(token)) {
		return
	}
	if !s.isService(token) {
		s.refuseCredential(c, "the bearer credential is not the introspection service token")
		return
	}
	var body api.IntrospectionRequest
	if !decode(c, cl.body, &body) {
		return
	}
	withEntitlements, ok := introspectIncludes(c, body.Include)
	if !ok {
		return
	}
	now := time.Now()
	sum := secretSum(body.Token) // once, for the failure budget and the key's lookup
	if wait, blocked := s.authFails.blocked(introspectFailKey(c), now); blocked && !s.creds.known(sum, now) {
		retryAfter(c, wait)
		fail(c, http.StatusTooManyRequests, "rate-limited",
			"too many inactive introspections from this address (at most "+strconv.Itoa(authFailureBudget)+
				" a minute); retry after the delay in Retry-After")
		return
	}
	e, verdict, err := s.resolveKey(c, body.Token, sum)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age="+strconv.Itoa(introspectMaxAge))
	switch {
	case verdict == keyMalformed || verdict == keyInvalid:
		s.authFails.failed(introspectFailKey(c), now)
		reply(c, http.StatusOK, api.Introspection{Active: false})
		return
	case verdict == keyKnownBad || e.status == "closed":
		// Known bad guesses nothing new, and a closed tenant's key is no guess: not counted.
		reply(c, http.StatusOK, api.Introspection{Active: false})
		return
	}
	ans := api.Introspection{Active: true, Role: e.role.String(), KeyID: &e.keyID,
		Tenant: &api.IntrospectedTenant{ID: e.tenant, Slug: e.slug, Status: e.status, Plan: e.plan, PlanVersion: e.planVersion},
		Member: &api.IntrospectedMember{ID: e.member}}
	if p, err := domain.ParsePlanName(e.plan); err == nil {
		l := s.catalog.Limits(p, e.planVersion)
		ans.Limits = &api.IntrospectedPlanLimit{Seats: l.Seats, RequestsPerSecond: l.RequestsPerSecond, Burst: l.Burst}
		if v, ok := s.catalog.Current().Version(p, e.planVersion); ok && len(v.Features) > 0 {
			ans.Features = maps.Clone(v.Features)
		}
		if withEntitlements {
			ents, err := s.d.Entitlements.List(c, e.tenant, p, e.planVersion, 0)
			if err != nil {
				s.failEntitlements(c, err)
				return
			}
			a := entitlementsAnswer(ents)
			ans.Entitlements = &a
		}
	}
	reply(c, http.StatusOK, ans)
}

// introspectIncludes reads the request's include list: only "entitlements" is known.
func introspectIncludes(c *gin.Context, include []string) (entitlements bool, ok bool) {
	for _, v := range include {
		if v != "entitlements" || entitlements {
			fail(c, http.StatusBadRequest, "invalid-request", "include may name \"entitlements\" (once), nothing else",
				FieldError{Field: "include", Message: "may only be [\"entitlements\"]"})
			return false, false
		}
		entitlements = true
	}
	return entitlements, true
}

var docIntrospect = op{id: "introspectApiKey", tag: "Integration", summary: "Introspect a tenant API key",
	body: api.IntrospectionRequest{}, result: api.Introspection{},
	desc: "Says whether a tenant API key is active and, if so, its tenant (id, slug, status, plan and plan version), member, role, " +
		"and the plan version's limits and features (RFC 7662's shape); with include [\"entitlements\"], also the tenant's entitlements as GET /v1/entitlements answers them (from memory). Authenticated by the service token TENANTRY_INTROSPECTION_TOKEN; 404 when it is unset (not enabled). " +
		"Anything that is not a usable key (malformed, unknown, revoked, its member removed, its tenant closed) answers 200 " +
		"{\"active\": false}, without saying why. A suspended tenant's keys stay active with tenant.status \"suspended\": " +
		"Tenantry's own API then serves reads and billing writes only, and a product should do the same. The key is looked " +
		"up as Tenantry's own routes authenticate it, so a revocation, a removal or a suspension reaches this answer within " +
		"the same bound as Tenantry's API; Cache-Control: private, max-age=2 says how much longer a caller may reuse it. " +
		"Inactive answers are limited per client (10 a minute, refilled evenly; keys this server holds as valid still " +
		"answer), as are wrong service tokens: 429 with Retry-After beyond."}
