package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// planDoc keeps free and enterprise as newAPI's default catalog has them, changes pro (a
// yearly price, a trial, burst 7) and adds gold.
const planDoc = `{"metrics": [{"metric": "storage_gb", "kind": "gauge", "aggregation": "max", "scale": 3, "unit": "GB"}],
"plans": [
  {"key": "free", "name": "Free", "intervals": {"monthly": {}}, "limits": {"seats": 3, "requests_per_second": 1000, "burst": 1000}},
  {"key": "pro", "name": "Pro", "intervals": {"monthly": {}, "yearly": {"amount": 50000, "currency": "usd"}}, "trial_days": 14,
   "limits": {"seats": 25, "requests_per_second": 1000, "burst": 7}, "features": {"sso": true}},
  {"key": "enterprise", "name": "Enterprise", "intervals": {"monthly": {}}, "limits": {"seats": 10000, "requests_per_second": 500, "burst": 1000}},
  {"key": "gold", "name": "Gold", "intervals": {"yearly": {"stripe_price": "price_gold"}}, "limits": {"seats": 50, "requests_per_second": 1000, "burst": 1000}}
]}`

func TestPlanCatalog_OperatorAppliesVersionsAndMigratesTenants(t *testing.T) {
	t.Parallel()
	a := newAPIOn(t, pgtest.New(t))
	old := a.createTenant("pro")

	r := a.do(req{method: "GET", path: "/v1/admin/plans", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(0), r.get("catalog_version"))
	require.Len(t, r.get("plans"), 3, "the default catalog")

	// A dry run answers the difference and writes nothing.
	r = a.do(req{method: "PUT", path: "/v1/admin/catalog?dry_run=true", token: operatorToken, body: planDoc})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, true, r.get("dry_run"))
	require.JSONEq(t, `[{"key":"free","status":"unchanged","version":1},{"key":"pro","status":"changed","version":2},
		{"key":"enterprise","status":"unchanged","version":1},{"key":"gold","status":"added","version":1}]`, mustJSON(t, r.get("plans")))
	r = a.do(req{method: "GET", path: "/v1/admin/plans/pro", token: operatorToken})
	require.Len(t, r.get("versions"), 1, "a dry run writes nothing")

	// Applied twice: the second apply changes nothing.
	r = a.do(req{method: "PUT", path: "/v1/admin/catalog", token: operatorToken, body: planDoc})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(3), r.get("catalog_version"))
	r = a.do(req{method: "PUT", path: "/v1/admin/catalog", token: operatorToken, body: planDoc})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(3), r.get("catalog_version"))
	require.NotContains(t, string(r.raw), `"changed"`)
	require.NotContains(t, string(r.raw), `"added"`)

	r = a.do(req{method: "GET", path: "/v1/admin/plans/pro", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Len(t, r.get("versions"), 2)
	require.Equal(t, http.StatusNotFound, a.do(req{method: "GET", path: "/v1/admin/plans/platinum", token: operatorToken}).status)

	// A new tenant joins pro v2 (yearly, in trial); the existing one stays on v1.
	slug := "yearly-" + strings.ToLower(old.slug)
	r = a.do(req{method: "POST", path: "/v1/tenants", token: operatorToken,
		body: map[string]any{"name": "Y", "slug": slug, "plan": "pro", "interval": "yearly", "admin_email": "a@y.example"}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	require.Equal(t, float64(2), r.get("tenant", "plan_version"))
	require.Equal(t, "yearly", r.str("tenant", "interval"))
	require.NotEmpty(t, r.str("tenant", "trial_ends_at"))
	r = a.do(req{method: "GET", path: "/v1/tenant", token: old.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(1), r.get("plan_version"))
	require.Equal(t, "monthly", r.str("interval"))
	require.Contains(t, r.header.Get("RateLimit-Policy"), "q=1000", "limits follow the tenant's version (pro v1)")

	// Unknown plans, intervals a plan is not sold at: 400 naming the field.
	for _, tc := range []struct{ plan, interval, field string }{{"platinum", "", "plan"}, {"gold", "monthly", "interval"}, {"pro", "weekly", "interval"}} {
		r = a.do(req{method: "POST", path: "/v1/tenants", token: operatorToken,
			body: map[string]any{"name": "X", "slug": "x-" + tc.field + "-" + tc.plan, "plan": tc.plan, "interval": tc.interval, "admin_email": "a@x.example"}})
		require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
		require.Contains(t, string(r.raw), `"field":"`+tc.field+`"`)
	}

	// The explicit migration moves the old tenant once; its limits follow.
	r = a.do(req{method: "POST", path: "/v1/admin/plans/pro/migrate-tenants", token: operatorToken, body: map[string]any{"from_version": 1, "to_version": 2}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, []any{old.id}, r.get("moved"))
	r = a.do(req{method: "POST", path: "/v1/admin/plans/pro/migrate-tenants", token: operatorToken, body: map[string]any{"from_version": 1, "to_version": 2}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, []any{}, r.get("moved"), "a repeated migration moves no one")
	require.Eventually(t, func() bool {
		r = a.do(req{method: "GET", path: "/v1/tenant", token: old.key})
		return r.status == http.StatusOK && r.get("plan_version") == float64(2)
	}, 30e9, 50e6, string(r.raw))
	require.Contains(t, r.header.Get("RateLimit-Policy"), "q=7", "limits follow the tenant's version (pro v2)")
	r = a.do(req{method: "GET", path: "/v1/admin/tenants", token: operatorToken})
	require.Contains(t, string(r.raw), `"plan_version":2`)

	// A metric the catalog declares takes the decimal places of its scale at ingestion.
	r = a.do(req{method: "POST", path: "/v1/usage", token: old.key, body: map[string]any{"metric": "storage_gb", "quantity": 1.25, "idempotency_key": "gb-1"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/usage", token: old.key, body: map[string]any{"metric": "api_calls", "quantity": 1.25, "idempotency_key": "calls-1"}})
	require.Equal(t, http.StatusBadRequest, r.status, "an undeclared metric stays whole: %s", r.raw)

	// A bad document names the field; nothing is written.
	r = a.do(req{method: "PUT", path: "/v1/admin/catalog", token: operatorToken, body: strings.Replace(planDoc, `"burst": 7`, `"burst": 0`, 1)})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
	require.Contains(t, string(r.raw), "plans.pro.limits")
}

func TestPlanCatalog_ConcurrentAppliesOfOneVersion_OneWinsTheOthersConflict(t *testing.T) {
	t.Parallel()
	a := newAPIOn(t, pgtest.New(t))
	const n = 6
	status := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := strings.Replace(planDoc, `"burst": 7`, `"burst": `+string(rune('1'+i)), 1)
			status[i] = a.do(req{method: "PUT", path: "/v1/admin/catalog?catalog_version=0", token: operatorToken, body: doc}).status
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range status {
		if s == http.StatusOK {
			won++
		} else {
			require.Equal(t, http.StatusConflict, s)
		}
	}
	require.Equal(t, 1, won)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// Introspection answers the features and limits of the tenant's own plan version: a new
// version of its plan changes neither until the tenant is moved to it.
func TestIntrospect_AnswersTheFeaturesOfTheTenantsPlanVersion(t *testing.T) {
	t.Parallel()
	a := newAPIOn(t, pgtest.New(t), withIntrospection)
	r := a.do(req{method: "PUT", path: "/v1/admin/catalog", token: operatorToken, body: planDoc})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	ten := a.createTenant("pro") // pro v2: sso on
	r = a.introspect(ten.key)
	require.Equal(t, float64(2), r.get("tenant", "plan_version"), string(r.raw))
	require.Equal(t, map[string]any{"sso": true}, r.get("features"))
	require.Equal(t, float64(7), r.get("limits", "burst"))

	v3 := strings.Replace(planDoc, `"features": {"sso": true}`, `"features": {"sso": false, "audit_export": true}`, 1)
	r = a.do(req{method: "PUT", path: "/v1/admin/catalog", token: operatorToken, body: v3})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.introspect(ten.key)
	require.Equal(t, float64(2), r.get("tenant", "plan_version"), "a new version leaves the tenant on its own")
	require.Equal(t, map[string]any{"sso": true}, r.get("features"))

	r = a.do(req{method: "POST", path: "/v1/admin/plans/pro/migrate-tenants", token: operatorToken, body: map[string]any{"from_version": 2, "to_version": 3}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Eventually(t, func() bool {
		r = a.introspect(ten.key)
		return r.get("tenant", "plan_version") == float64(3)
	}, 30*time.Second, 50*time.Millisecond, "moved, within the credential cache's bound")
	require.Equal(t, map[string]any{"sso": false, "audit_export": true}, r.get("features"))
}
