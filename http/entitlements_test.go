package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// entitlementsDoc is a catalog whose pro plan has a quota of every kind on counters and
// gauges (whole and decimal), and features; enterprise meters other metrics differently.
const entitlementsDoc = `{"metrics": [
  {"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0, "unit": "calls", "meter": "api_requests"},
  {"metric": "egress_gb", "kind": "counter", "aggregation": "sum", "scale": 3, "unit": "GB", "meter": "egress"},
  {"metric": "storage_gb", "kind": "gauge", "aggregation": "max", "scale": 2, "unit": "GB", "meter": "storage"},
  {"metric": "seats_used", "kind": "gauge", "aggregation": "last", "scale": 0},
  {"metric": "events", "kind": "counter", "aggregation": "sum", "scale": 0, "meter": "events"}],
"plans": [
  {"key": "free", "name": "Free", "intervals": {"monthly": {}}, "limits": {"seats": 3, "requests_per_second": 1000, "burst": 1000}},
  {"key": "pro", "name": "Pro", "intervals": {"monthly": {}}, "limits": {"seats": 25, "requests_per_second": 100000, "burst": 100000},
   "features": {"sso": true, "audit_export": false},
   "metrics": {"api_calls": {"included": 100, "beyond": "hard"}, "egress_gb": {"included": 5.5, "beyond": "overage"},
               "storage_gb": {"included": 10.5, "beyond": "soft"}, "seats_used": {"included": 5, "beyond": "hard"}}},
  {"key": "enterprise", "name": "Enterprise", "intervals": {"monthly": {}}, "limits": {"seats": 10000, "requests_per_second": 1000, "burst": 1000},
   "features": {"sso": true, "audit_export": true, "priority_support": true},
   "metrics": {"api_calls": {"included": 1000, "beyond": "overage"}, "storage_gb": {"included": 100, "beyond": "hard"},
               "events": {"included": 50, "beyond": "soft"}, "seats_used": {"included": 50, "beyond": "soft"},
               "egress_gb": {"included": 20.25, "beyond": "overage"}}}
]}`

// newEntitlementsAPI is a server on a database of its own (the catalog reaches every
// tenant) with entitlementsDoc applied.
func newEntitlementsAPI(t *testing.T, opts ...apiOption) *api {
	t.Helper()
	a := newAPIOn(t, pgtest.New(t), opts...)
	a.applyEntitlementsCatalog()
	return a
}

func (a *api) applyEntitlementsCatalog() { a.applyEntitlementsCatalogWithProRate(100_000, 100_000) }

// applyEntitlementsCatalogWithProRate applies entitlementsDoc with pro's rate limit set to
// rps requests a second and burst.
func (a *api) applyEntitlementsCatalogWithProRate(rps, burst int) {
	a.t.Helper()
	const proRate = `"requests_per_second": 100000, "burst": 100000`
	require.Contains(a.t, entitlementsDoc, proRate)
	doc := strings.Replace(entitlementsDoc, proRate, fmt.Sprintf(`"requests_per_second": %d, "burst": %d`, rps, burst), 1)
	r := a.do(req{method: "PUT", path: "/v1/admin/catalog", token: operatorToken, body: doc})
	require.Equal(a.t, http.StatusOK, r.status, string(r.raw))
}

func (a *api) check(key string, body any) response {
	a.t.Helper()
	return a.do(req{method: "POST", path: "/v1/entitlements/check", token: key, body: body})
}

// postUsage records one usage body and answers its seq.
func (a *api) postUsage(key, body string) int64 {
	a.t.Helper()
	r := a.do(req{method: "POST", path: "/v1/usage", token: key, body: body})
	require.Equal(a.t, http.StatusAccepted, r.status, string(r.raw))
	return int64(r.get("seq").(float64))
}

func usageBody(metric, quantity, key string) string {
	return fmt.Sprintf(`{"metric":%q,"quantity":%s,"idempotency_key":%q}`, metric, quantity, key)
}

func TestEntitlementCheck_AnswersEachReasonWithTheMetricsQuotaAndUsage(t *testing.T) {
	t.Parallel()
	a := newEntitlementsAPI(t)
	ten := a.createTenant("pro")
	a.postUsage(ten.key, usageBody("api_calls", "97", "c1"))
	a.postUsage(ten.key, usageBody("egress_gb", "5.25", "e1"))
	a.postUsage(ten.key, usageBody("seats_used", "5", "s1"))
	seq := a.postUsage(ten.key, usageBody("seats_used", "4", "s2"))
	r := a.do(req{method: "GET", path: fmt.Sprintf("/v1/entitlements?min_seq=%d", seq), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.EqualValues(t, seq, r.get("seq"))

	for _, c := range []struct {
		name    string
		body    map[string]any
		allowed bool
		reason  string
		usage   any
	}{
		{"FeatureOn", map[string]any{"feature": "sso"}, true, "feature_enabled", nil},
		{"FeatureOff", map[string]any{"feature": "audit_export"}, false, "feature_disabled", nil},
		{"FeatureNotInPlan", map[string]any{"feature": "teleport"}, false, "not_in_plan", nil},
		{"CounterFitsExactly", map[string]any{"metric": "api_calls", "quantity": 3}, true, "included", float64(97)},
		{"CounterBeyondHard", map[string]any{"metric": "api_calls", "quantity": 4}, false, "quota_exceeded", float64(97)},
		{"DecimalCounterOverage", map[string]any{"metric": "egress_gb", "quantity": 0.251}, true, "overage", 5.25},
		{"GaugeSoftBeyond", map[string]any{"metric": "storage_gb", "quantity": 10.51}, true, "soft_quota", float64(0)},
		{"GaugeHardReadingWithin", map[string]any{"metric": "seats_used", "quantity": 5}, true, "included", float64(4)},
		{"GaugeHardReadingBeyond", map[string]any{"metric": "seats_used", "quantity": 6}, false, "quota_exceeded", float64(4)},
		{"DeclaredMetricWithoutQuota", map[string]any{"metric": "events", "quantity": 1}, true, "no_quota", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.check(ten.key, c.body)
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			require.Equal(t, c.allowed, r.get("allowed"), string(r.raw))
			require.Equal(t, c.reason, r.get("reason"), string(r.raw))
			require.NotEmpty(t, r.str("message"))
			require.Equal(t, c.usage, r.get("usage"), string(r.raw))
			require.GreaterOrEqual(t, r.get("seq").(float64), float64(seq), "a check reflects the memory at least as of the last GET")
		})
	}
}

func TestEntitlementCheck_RefusesMalformedChecksWith400(t *testing.T) {
	t.Parallel()
	a := newEntitlementsAPI(t)
	ten := a.createTenant("pro")
	for _, c := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"Empty", map[string]any{}, http.StatusBadRequest, "body"},
		{"Both", map[string]any{"feature": "sso", "metric": "api_calls", "quantity": 1}, http.StatusBadRequest, "body"},
		{"FeatureWithQuantity", map[string]any{"feature": "sso", "quantity": 1}, http.StatusBadRequest, "quantity"},
		{"FeatureShape", map[string]any{"feature": "SSO; drop"}, http.StatusBadRequest, "feature"},
		{"MetricUnknown", map[string]any{"metric": "unheard_of", "quantity": 1}, http.StatusBadRequest, "metric"},
		{"MetricWithoutQuantity", map[string]any{"metric": "api_calls"}, http.StatusBadRequest, "quantity"},
		{"QuantityZero", map[string]any{"metric": "api_calls", "quantity": 0}, http.StatusBadRequest, "quantity"},
		{"QuantityNegative", map[string]any{"metric": "api_calls", "quantity": -1}, http.StatusBadRequest, "quantity"},
		{"QuantityBeyondScale", map[string]any{"metric": "storage_gb", "quantity": 1.125}, http.StatusBadRequest, "quantity"},
		{"QuantityNotANumber", map[string]any{"metric": "api_calls", "quantity": "lots"}, http.StatusBadRequest, "quantity"},
		{"QuantityAsAString", map[string]any{"metric": "api_calls", "quantity": "4"}, http.StatusBadRequest, "quantity"}, // as POST /v1/usage
		{"QuantityAsAnObject", map[string]any{"metric": "api_calls", "quantity": map[string]any{"n": 4}}, http.StatusBadRequest, "quantity"},
		{"QuantityNull", `{"metric": "api_calls", "quantity": null}`, http.StatusBadRequest, "quantity"},
		{"QuantityTooLarge", map[string]any{"metric": "api_calls", "quantity": 1000000000001}, http.StatusUnprocessableEntity, "quantity"},
		{"UnknownField", map[string]any{"feature": "sso", "extra": true}, http.StatusBadRequest, ""},
		{"NotAnObject", `["sso"]`, http.StatusBadRequest, ""},
		{"KeyTwice", `{"metric": "api_calls", "quantity": 1, "metric": "storage_gb"}`, http.StatusBadRequest, "metric"},
		{"KeyTwiceInAnotherCase", `{"metric": "api_calls", "Metric": "storage_gb", "quantity": 1}`, http.StatusBadRequest, "Metric"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.check(ten.key, c.body)
			require.Equal(t, c.status, r.status, string(r.raw))
			require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			if c.field != "" {
				require.Equal(t, c.field, r.get("errors").([]any)[0].(map[string]any)["field"], string(r.raw))
			}
		})
	}
	r := a.do(req{method: "GET", path: "/v1/entitlements?min_seq=-1", token: ten.key})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/entitlements?min_seq=999999", token: ten.key})
	require.Equal(t, http.StatusBadRequest, r.status, "beyond the tenant's head: refused at once: %s", r.raw)
}

// Every member reads the entitlements, under the workspace path too; another tenant's key
// gets 404, as on every tenant route.
func TestEntitlements_AnyMemberReadsAndAnotherTenantsKeyGets404(t *testing.T) {
	t.Parallel()
	a := newEntitlementsAPI(t)
	ten, other := a.createTenant("pro"), a.createTenant("pro")
	for role, key := range a.keysByRole(ten) {
		r := a.do(req{method: "GET", path: "/v1/entitlements", token: key})
		require.Equal(t, http.StatusOK, r.status, "%s: %s", role, r.raw)
		require.Equal(t, "pro", r.str("plan"))
		r = a.check(key, map[string]any{"feature": "sso"})
		require.Equal(t, http.StatusOK, r.status, "%s: %s", role, r.raw)
		require.Equal(t, true, r.get("allowed"))
	}
	r := a.do(req{method: "GET", path: "/v1/workspaces/" + ten.slug + "/entitlements", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Len(t, r.get("metrics"), 4)
	r = a.do(req{method: "GET", path: "/v1/workspaces/" + ten.slug + "/entitlements", token: other.key})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/workspaces/" + ten.slug + "/entitlements/check", token: other.key, body: map[string]any{"feature": "sso"}})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
	require.Equal(t, http.StatusUnauthorized, a.do(req{method: "GET", path: "/v1/entitlements"}).status)
}

// The check writes nothing: a suspended tenant's product still gets answers (the product
// decides what to serve, as with introspection), while the tenant's other writes are refused.
func TestEntitlementCheck_IsAnsweredWhileTheTenantIsSuspended(t *testing.T) {
	t.Parallel()
	a := newEntitlementsAPI(t)
	ten := a.createTenant("pro")
	r := a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/suspend", token: operatorToken, body: map[string]any{"note": "test"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, "suspended", r.str("status"), string(r.raw))
	r = a.check(ten.key, map[string]any{"metric": "api_calls", "quantity": 1})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "included", r.get("reason"))
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: usageBody("api_calls", "1", "k")})
	require.Equal(t, "tenant-suspended", r.problemType(), "other writes stay refused: %s", r.raw)
}
