package httpapi_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	httpapi "github.com/tenantry/tenantry/http"
)

// concrete fills a route's path parameters with ids that exist nowhere, so that an allowed
// call is harmless (404 or 400) and only the permission decision is observed.
func concrete(path string) string {
	return strings.NewReplacer(":id", uuid.NewString()).Replace(path)
}

// keysByRole creates one key per role in the tenant (an admin may mint keys of any role).
func (a *api) keysByRole(ten tenantFixture) map[domain.Role]string {
	a.t.Helper()
	keys := map[domain.Role]string{domain.RoleAdmin: ten.key}
	for _, role := range domain.Roles() {
		if role == domain.RoleAdmin {
			continue
		}
		r := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"role": role.String(), "name": role.String()}})
		require.Equal(a.t, http.StatusCreated, r.status, string(r.raw))
		keys[role] = r.str("api_key", "key")
	}
	return keys
}

func TestPermissions_EveryRouteTimesEveryRole(t *testing.T) {
	t.Parallel()
	// The refusals below are failed authentications, which are budgeted per client address:
	// each request comes from an address of its own (through a trusted proxy), so the
	// budget does not cap how many routes the table may hold.
	a := newAPI(t, withWebhookKey(t), func(d *httpapi.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	ten := a.createTenant("pro")
	keys := a.keysByRole(ten)
	var client atomic.Int64
	from := func() string {
		n := client.Add(1)
		return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
	}
	for _, rt := range httpapi.Routes() {
		if rt.Access != "member" {
			continue
		}
		for _, role := range domain.Roles() {
			for _, path := range []string{rt.Path, "/v1/workspaces/" + ten.slug + strings.TrimPrefix(rt.Path, "/v1")} {
				var body any
				if rt.Method != "GET" && rt.Method != "DELETE" {
					body = "{}"
				}
				r := a.do(req{method: rt.Method, path: concrete(path), token: keys[role], body: body})
				if slices.Contains(rt.Roles, role) {
					require.NotContains(t, []int{401, 403}, r.status, "%s %s as %s should be allowed: %s", rt.Method, path, role, r.raw)
					require.Less(t, r.status, 500, "%s %s as %s: %s", rt.Method, path, role, r.raw)
				} else {
					require.Equal(t, http.StatusForbidden, r.status, "%s %s as %s should be denied: %s", rt.Method, path, role, r.raw)
					require.Equal(t, "forbidden", r.problemType())
				}
			}
		}
	}
	// Operator routes refuse every tenant key; tenant routes refuse the operator token.
	for _, rt := range httpapi.Routes() {
		switch rt.Access {
		case "operator":
			for _, key := range keys {
				r := a.do(req{method: rt.Method, path: concrete(rt.Path), token: key, header: map[string]string{"X-Forwarded-For": from()}})
				require.Equal(t, http.StatusUnauthorized, r.status, "%s %s: %s", rt.Method, rt.Path, r.raw)
			}
		case "member":
			r := a.do(req{method: rt.Method, path: concrete(rt.Path), token: operatorToken, header: map[string]string{"X-Tenant": ten.slug, "X-Forwarded-For": from()}})
			require.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", rt.Method, rt.Path, r.raw)
		}
	}
}

// The README shows the permission table the router enforces.
func TestPermissions_READMEShowsTheTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), httpapi.Permissions(),
		"update the README's permission table to:\n%s", httpapi.Permissions())
}

// Every registered route is in the OpenAPI document and the document has nothing else: a
// HEAD route is its GET operation (the document says so once), a workspace route is the
// operation whose x-tenantry-workspace-path names it.
func TestOpenAPI_DescribesEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(req{method: "GET", path: "/openapi.json"})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "3.1.0", r.str("openapi"))
	require.Contains(t, r.str("info", "description"), "HEAD")
	require.Contains(t, r.str("info", "description"), "/v1/workspaces/{workspace}/")
	paths := r.get("paths").(map[string]any)
	documented := map[string]bool{}
	for p, item := range paths {
		for m, o := range item.(map[string]any) {
			documented[strings.ToUpper(m)+" "+p] = true
			op := o.(map[string]any)
			require.NotEmpty(t, op["summary"], "%s %s", m, p)
			require.NotEmpty(t, op["responses"], "%s %s", m, p)
			if ws, ok := op["x-tenantry-workspace-path"].(string); ok {
				require.True(t, strings.HasPrefix(ws, "/v1/workspaces/{workspace}/"), "%s %s: %s", m, p, ws)
				documented[strings.ToUpper(m)+" "+ws] = true
			}
		}
	}
	engine := httpapi.New(a.deps)
	registered := map[string]bool{}
	for _, ri := range engine.Routes() {
		method := ri.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		key := method + " " + openAPIPath(ri.Path)
		registered[key] = true
		require.True(t, documented[key], "route %s %s is missing from /openapi.json", ri.Method, ri.Path)
	}
	for key := range documented {
		require.True(t, registered[key], "/openapi.json documents %s, which is not a route", key)
	}
}

func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
