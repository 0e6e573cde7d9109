package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	httpapi "github.com/tenantry/tenantry/http"
)

const serviceToken = "svc-token-for-tests-0123456789"

func withIntrospection(d *httpapi.Deps) { d.IntrospectionToken = serviceToken }

// introspect asks the server about key with the service token.
func (a *api) introspect(key string) response {
	a.t.Helper()
	return a.do(req{method: "POST", path: "/v1/introspect", token: serviceToken, body: map[string]any{"token": key}})
}

func requireInactive(t *testing.T, r response) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, map[string]any{"active": false}, r.body, "an inactive answer says nothing more")
	require.Equal(t, "private, max-age=2", r.header.Get("Cache-Control"))
}

func TestIntrospect_AnswersAnActiveKeysTenantMemberRoleAndPlanLimits(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withIntrospection)
	ten, other := a.createTenant("pro"), a.createTenant("free")
	keys := a.keysByRole(ten)

	r := a.introspect(ten.key)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "private, max-age=2", r.header.Get("Cache-Control"))
	require.Equal(t, true, r.get("active"))
	require.Equal(t, ten.id, r.str("tenant", "id"))
	require.Equal(t, ten.slug, r.str("tenant", "slug"))
	require.Equal(t, "active", r.str("tenant", "status"))
	require.Equal(t, "pro", r.str("tenant", "plan"))
	require.Equal(t, float64(1), r.get("tenant", "plan_version"))
	require.Nil(t, r.get("features"), "the default catalog's plans define no feature")
	require.Equal(t, ten.adminID, r.str("member", "id"))
	require.Equal(t, "admin", r.str("role"))
	require.NotEmpty(t, r.str("key_id"))
	limits := a.deps.Plans.Limits(domain.PlanPro)
	require.Equal(t, float64(limits.Seats), r.get("limits", "seats"))
	require.Equal(t, limits.RequestsPerSecond, r.get("limits", "requests_per_second"))
	require.Equal(t, float64(limits.Burst), r.get("limits", "burst"))

	require.Equal(t, "viewer", a.introspect(keys[domain.RoleViewer]).str("role"))
	// Another tenant's key answers for its own tenant, never the first one's.
	r = a.introspect(other.key)
	require.Equal(t, other.id, r.str("tenant", "id"))
	require.Equal(t, "free", r.str("tenant", "plan"))
	require.Equal(t, float64(a.deps.Plans.Limits(domain.PlanFree).Seats), r.get("limits", "seats"))
}

func TestIntrospect_AnswersInactiveForMalformedAndUnknownKeys(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withIntrospection)
	for _, key := range []string{"", "garbage", "tk_nope.nope", bogusKey(), operatorToken, serviceToken} {
		requireInactive(t, a.introspect(key))
	}
}

func TestIntrospect_RevokedKeyIsInactiveWithinTheBound(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withIntrospection)
	ten := a.createTenant("pro")
	mk := func() (id, key string) {
		k := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"role": "editor", "name": "k"}})
		require.Equal(t, http.StatusCreated, k.status, string(k.raw))
		return k.str("api_key", "id"), k.str("api_key", "key")
	}
	// Revoked through the process that answers: inactive at once.
	id, key := mk()
	require.Equal(t, true, a.introspect(key).get("active"))
	require.Equal(t, http.StatusOK, a.do(req{method: "DELETE", path: "/v1/api-keys/" + id, token: ten.key}).status)
	requireInactive(t, a.introspect(key))

	// Revoked through another replica: inactive within the credential cache's bound, as on
	// Tenantry's own routes.
	b := a.replica(t)
	id, key = mk()
	require.Equal(t, true, a.introspect(key).get("active")) // cached by a
	require.Equal(t, http.StatusOK, b.do(req{method: "DELETE", path: "/v1/api-keys/" + id, token: ten.key}).status)
	revoked := time.Now()
	for a.introspect(key).get("active") == true {
		require.Less(t, time.Since(revoked), credentialBound+time.Second, "still active past the bound")
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, http.StatusUnauthorized, a.do(req{method: "GET", path: "/v1/tenant", token: key}).status, "and refused by the API alike")
}

func TestIntrospect_SuspendedTenantStaysActiveWithItsStatusAndAClosedOneIsInactive(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withIntrospection)
	ten := a.createTenant("pro")
	r := a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/suspend", token: operatorToken, body: map[string]any{"reason": "operator"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.introspect(ten.key)
	require.Equal(t, true, r.get("active"), "a suspended tenant still reads on Tenantry's API")
	require.Equal(t, "suspended", r.str("tenant", "status"))

	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/close", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	requireInactive(t, a.introspect(ten.key))
}

func TestIntrospect_RefusesAbsentOrWrongServiceTokens(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withIntrospection)
	ten := a.createTenant("pro")
	body := map[string]any{"token": ten.key}
	for _, token := range []string{"", "wrong-token-of-enough-length", operatorToken, ten.key} {
		r := a.do(req{method: "POST", path: "/v1/introspect", token: token, body: body})
		require.Equal(t, http.StatusUnauthorized, r.status, "token %q: %s", token, r.raw)
		require.Empty(t, r.header.Get("Cache-Control"))
	}
	// The body is decoded strictly.
	r := a.do(req{method: "POST", path: "/v1/introspect", token: serviceToken, body: map[string]any{"token": ten.key, "extra": 1}})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))

	off := newAPI(t) // no service token configured: the route is not enabled
	r = off.do(req{method: "POST", path: "/v1/introspect", token: serviceToken, body: body})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
}

func TestIntrospect_LimitsInactiveAnswersPerClient(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withIntrospection)
	ten := a.createTenant("pro")
	require.Equal(t, true, a.introspect(ten.key).get("active")) // known valid here
	for range 10 {
		requireInactive(t, a.introspect(bogusKey()))
	}
	r := a.introspect(bogusKey())
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
	require.NotEmpty(t, r.header.Get("Retry-After"))
	// A key this server holds as valid still answers, so a product's good keys keep working.
	require.Equal(t, true, a.introspect(ten.key).get("active"))
	// And Tenantry's own API is not locked out for the client: the budgets are separate.
	require.Equal(t, http.StatusOK, a.do(req{method: "GET", path: "/v1/tenant", token: ten.key}).status)
}

func TestIntrospect_LimitsWrongServiceTokensPerClient(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withIntrospection)
	ten := a.createTenant("pro")
	for range 10 {
		r := a.do(req{method: "POST", path: "/v1/introspect", token: "wrong-token-of-enough-length", body: map[string]any{"token": ten.key}})
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	// Blocked before the token is compared: the right one is not told apart.
	r := a.introspect(ten.key)
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
	require.NotEmpty(t, r.header.Get("Retry-After"))
}
