package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

func TestHEAD_AnswersEveryGETRouteWithoutABody(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	for _, path := range []string{"/healthz", "/openapi.json", "/v1/tenant", "/v1/workspaces/" + ten.slug + "/members", "/v1/usage?granularity=day"} {
		get := a.do(req{method: "GET", path: path, token: ten.key})
		head := a.do(req{method: "HEAD", path: path, token: ten.key})
		require.Equal(t, http.StatusOK, get.status, path)
		require.Equal(t, get.status, head.status, path)
		require.Empty(t, head.raw, path)
		require.Equal(t, get.header.Get("Content-Type"), head.header.Get("Content-Type"), path)
		require.NotEmpty(t, head.header.Get("X-Request-ID"), path)
	}
	require.Equal(t, http.StatusUnauthorized, a.do(req{method: "HEAD", path: "/v1/tenant"}).status, "HEAD is authorised as GET")
	require.Equal(t, http.StatusMethodNotAllowed, a.do(req{method: "HEAD", path: "/v1/tenants"}).status, "no HEAD without a GET")

	// The document says once that every GET operation answers HEAD, rather than doubling
	// each GET with a HEAD operation (generators would make a client method of each).
	doc := a.server.Document()
	require.Contains(t, doc["info"].(map[string]any)["description"], "Every GET operation also answers HEAD")
	for path, item := range doc["paths"].(map[string]any) {
		require.NotContains(t, item, "head", path)
	}
}

func TestRateLimit_TenantRoutesSendIETFRateLimitHeaders(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(d *httpapi.Deps) { d.Plans = mustPlans(t, "free.rps=0.1,free.burst=3") })
	ten := a.createTenant("free")
	for want := 2; want >= 0; want-- {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, `"plan";q=3;w=30`, r.header.Get("RateLimit-Policy"))
		rl := r.header.Get("RateLimit")
		require.True(t, strings.HasPrefix(rl, `"plan";r=`+string(rune('0'+want))+`;t=`), rl)
	}
	r := a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
	require.True(t, strings.HasPrefix(r.header.Get("RateLimit"), `"plan";r=0;t=`), r.header.Get("RateLimit"))
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Empty(t, a.do(req{method: "GET", path: "/healthz"}).header.Get("RateLimit"), "only tenant routes")
}
