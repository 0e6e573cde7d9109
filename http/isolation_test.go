package httpapi_test

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

// snapshot is what tenant b's own admin can read of it.
func (a *api) snapshot(ten tenantFixture) []string {
	a.t.Helper()
	var out []string
	for _, p := range []string{"/v1/tenant", "/v1/members", "/v1/api-keys", "/v1/usage?granularity=day", "/v1/billing", "/v1/audit/verify"} {
		r := a.do(req{method: "GET", path: p, token: ten.key})
		require.Equal(a.t, http.StatusOK, r.status, "%s: %s", p, r.raw)
		out = append(out, string(r.raw))
	}
	return out
}

func TestIsolation_AKeyNeverReachesAnotherTenant(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ta, tb := a.createTenant("pro"), a.createTenant("pro")
	r := a.do(req{method: "POST", path: "/v1/usage", token: tb.key, body: map[string]any{"metric": "api_calls", "quantity": 5, "idempotency_key": "b-1"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/usage?min_seq=" + jsonNumber(t, r.get("seq")), token: tb.key})
	require.Equal(t, http.StatusOK, r.status)
	before := a.snapshot(tb)

	aimAtB := []func(path string) req{
		func(p string) req { return req{path: "/v1/workspaces/" + tb.slug + strings.TrimPrefix(p, "/v1")} },
		func(p string) req { return req{path: "/v1/workspaces/" + tb.id + strings.TrimPrefix(p, "/v1")} },
		func(p string) req { return req{path: p, host: tb.slug + ".tenantry.test"} },
		func(p string) req { return req{path: p, header: map[string]string{"X-Tenant": tb.slug}} },
		func(p string) req { return req{path: p, header: map[string]string{"X-Tenant": tb.id}} },
	}
	bodies := map[string]any{
		"POST /v1/members":            map[string]any{"email": "intruder@example.com", "role": "admin"},
		"PATCH /v1/members/:id":       map[string]any{"role": "viewer"},
		"POST /v1/api-keys":           map[string]any{"role": "admin"},
		"POST /v1/usage":              map[string]any{"metric": "api_calls", "quantity": 1000, "idempotency_key": "evil"},
		"PATCH /v1/tenant":            map[string]any{"name": "pwned"},
		"PUT /v1/tenant/plan":         map[string]any{"plan": "free"},
		"POST /v1/invitations/accept": map[string]any{"token": "inv_x.y"},
		"DELETE /v1/members/:id":      nil,
		"DELETE /v1/api-keys/:id":     nil,
	}
	for _, rt := range httpapi.Routes() {
		if !rt.Scoped || rt.Access != "member" {
			continue
		}
		for i, aim := range aimAtB {
			rq := aim(strings.ReplaceAll(rt.Path, ":id", tb.adminID))
			rq.method, rq.token, rq.body = rt.Method, ta.key, bodies[rt.Method+" "+rt.Path]
			r := a.do(rq)
			require.Equal(t, http.StatusNotFound, r.status, "%s %s via method %d: %s", rt.Method, rt.Path, i, r.raw)
			require.Equal(t, "not-found", r.problemType())
			require.NotContains(t, string(r.raw), "Tenant "+tb.slug, "no data of b")
			require.NotContains(t, string(r.raw), "admin@"+tb.slug, "no data of b")
		}
	}
	require.Equal(t, before, a.snapshot(tb), "tenant b is unchanged")

	// An unknown tenant is 404 too, whoever asks; two sources naming different tenants are 400.
	r = a.do(req{method: "GET", path: "/v1/workspaces/no-such-tenant/tenant", token: ta.key})
	require.Equal(t, http.StatusNotFound, r.status)
	r = a.do(req{method: "GET", path: "/v1/workspaces/" + ta.slug + "/tenant", token: ta.key, header: map[string]string{"X-Tenant": tb.slug}})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
	// A revoked or forged key is 401.
	forged := ta.key[:len(ta.key)-4] + "AAAA"
	r = a.do(req{method: "GET", path: "/v1/tenant", token: forged})
	require.Equal(t, http.StatusUnauthorized, r.status)
}

// jsonNumber renders a JSON number decoded as float64 (a seq) as the integer a query
// parameter needs. It reports a value that is not a positive whole number, since a missing
// or mangled seq would silently turn a read-your-writes wait into no wait at all.
func jsonNumber(t testing.TB, v any) string {
	t.Helper()
	f, ok := v.(float64)
	if !ok || f < 1 || f != math.Trunc(f) {
		t.Errorf("jsonNumber: %v (%T) is not a positive whole number", v, v)
	}
	return fmtFloat(f)
}

func TestJSONNumber_KeepsTrailingZerosOfASeq(t *testing.T) {
	for _, seq := range []float64{1, 9, 10, 100, 120, 1e6} {
		require.Equal(t, strconv.FormatInt(int64(seq), 10), jsonNumber(t, seq))
	}
}
