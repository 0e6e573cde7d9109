package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/entitlements"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// Two API servers over one database, each with its own pools and Store: usage recorded
// through one reaches the other's entitlements held in memory, and min_seq makes the read
// wait for it. (In one process both Stores share the process's feed hub; the wake through
// NOTIFY from another process is TestEntitlements_FollowAnotherProcessesUsage in
// cmd/tenantry/platform.)
func TestEntitlements_FollowUsageRecordedThroughAnotherServer(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a, b := newAPIOn(t, db), newAPIOn(t, db)
	a.applyEntitlementsCatalog()
	ten := a.createTenant("pro")
	r := b.do(req{method: "GET", path: "/v1/entitlements", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.EqualValues(t, 0, usageOf(t, r, "api_calls"), "nothing used yet")

	total := 0
	for i := 1; i <= 5; i++ {
		seq := a.postUsage(ten.key, usageBody("api_calls", fmt.Sprint(i), fmt.Sprintf("k%d", i)))
		total += i
		r = b.do(req{method: "GET", path: fmt.Sprintf("/v1/entitlements?min_seq=%d", seq), token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.GreaterOrEqual(t, r.get("seq").(float64), float64(seq))
		require.EqualValues(t, total, usageOf(t, r, "api_calls"), "b's memory reflects a's usage up to seq %d: %s", seq, r.raw)
		require.EqualValues(t, 100-total, remainingOf(t, r, "api_calls"))
	}
	r = b.check(ten.key, map[string]any{"metric": "api_calls", "quantity": 100 - total + 1})
	require.Equal(t, "quota_exceeded", r.get("reason"), string(r.raw))
}

// Introspection answers the key's tenant's entitlements only when asked (include), so its
// plain answer stays as cheap as before.
func TestIntrospect_IncludesEntitlementsOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	a := newEntitlementsAPI(t, withIntrospection)
	ten := a.createTenant("pro")
	seq := a.postUsage(ten.key, usageBody("api_calls", "7", "k"))
	r := a.introspect(ten.key)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Nil(t, r.get("entitlements"))

	r = a.do(req{method: "GET", path: fmt.Sprintf("/v1/entitlements?min_seq=%d", seq), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/introspect", token: serviceToken, body: map[string]any{"token": ten.key, "include": []string{"entitlements"}}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "pro", r.str("entitlements", "plan"))
	require.Equal(t, map[string]any{"sso": true, "audit_export": false}, r.get("entitlements", "features"))
	require.EqualValues(t, 7, usageOf(t, response{body: r.get("entitlements").(map[string]any)}, "api_calls"))

	r = a.do(req{method: "POST", path: "/v1/introspect", token: serviceToken, body: map[string]any{"token": ten.key, "include": []string{"everything"}}})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/introspect", token: serviceToken, body: map[string]any{"token": "tk_nope.nope", "include": []string{"entitlements"}}})
	require.Equal(t, map[string]any{"active": false}, r.body, "an inactive key answers nothing more")
}

// metricEntry is the GET /v1/entitlements answer's entry of metric.
func metricEntry(t *testing.T, r response, metric string) map[string]any {
	t.Helper()
	ms, _ := r.body["metrics"].([]any)
	for _, m := range ms {
		if e := m.(map[string]any); e["metric"] == metric {
			return e
		}
	}
	t.Fatalf("no metric %s in %v", metric, r.body)
	return nil
}

func usageOf(t *testing.T, r response, metric string) any { return metricEntry(t, r, metric)["usage"] }

func remainingOf(t *testing.T, r response, metric string) any {
	return metricEntry(t, r, metric)["remaining"]
}

// stallingSource is the store's source whose loads, once stalled, wait for the test to end
// (a database that does not answer in time).
type stallingSource struct {
	httpapi.UsageTotalsSource
	stalled *atomic.Bool
}

func (s stallingSource) UsageTotals(ctx context.Context, tenant uuid.UUID, period time.Time) (int64, entitlements.Totals, error) {
	if s.stalled.Load() {
		<-ctx.Done()
		return 0, nil, ctx.Err()
	}
	return s.UsageTotalsSource.UsageTotals(ctx, tenant, period)
}

// A min_seq the memory cannot reach within its bound answers 503 entitlements-behind with
// Retry-After, never a stale answer presented as fresh.
func TestEntitlements_AnUnreachedMinSeqAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	var stalled atomic.Bool
	a := newAPI(t, func(d *httpapi.Deps) {
		d.Catalog = app.NewPlanCatalog(eventstore.DomainStore{Store: d.Store, Registry: d.Registry}, plans.Default(d.Plans))
		d.Entitlements = app.NewEntitlements(stallingSource{httpapi.UsageTotalsSource{Store: d.Store}, &stalled}, d.Catalog, nil,
			app.EntitlementsConfig{MaxWait: 200 * time.Millisecond})
	})
	ten := a.createTenant("pro")
	r := a.do(req{method: "GET", path: "/v1/entitlements", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	stalled.Store(true)
	seq := a.postUsage(ten.key, usageBody("api_calls", "1", "k"))
	r = a.do(req{method: "GET", path: fmt.Sprintf("/v1/entitlements?min_seq=%d", seq), token: ten.key})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	require.Equal(t, "entitlements-behind", r.problemType())
	require.Equal(t, "1", r.header.Get("Retry-After"))
}

// A check is a tenant request: it spends the tenant's plan rate limit like every tenant
// route (429 rate-limited beyond the burst), while a sidecar asking through introspection
// spends no tenant's budget.
func TestEntitlementCheck_SpendsTheTenantsRateLimitAndIntrospectionDoesNot(t *testing.T) {
	t.Parallel()
	a := newAPIOn(t, pgtest.New(t), withIntrospection)
	a.applyEntitlementsCatalogWithProRate(1, 3)
	ten := a.createTenant("pro")
	for range 10 {
		r := a.do(req{method: "POST", path: "/v1/introspect", token: serviceToken, body: map[string]any{"token": ten.key, "include": []string{"entitlements"}}})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, true, r.get("active"))
	}
	limited := 0
	for i := range 8 {
		r := a.check(ten.key, map[string]any{"metric": "api_calls", "quantity": 1})
		if r.status == http.StatusTooManyRequests {
			require.NotZero(t, i, "the introspections spent none of the tenant's burst")
			limited++
			require.Equal(t, "rate-limited", r.problemType())
			require.NotEmpty(t, r.header.Get("Retry-After"))
			continue
		}
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, true, r.get("allowed"))
	}
	// 3 in the burst, and one more for each second the refusals' delays add up to.
	require.GreaterOrEqual(t, limited, 3, "checks beyond the plan's burst are refused")
}
