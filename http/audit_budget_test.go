package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

// A tenant that other tenants pushed out of the audit cache (a few hundred auditing
// tenants were enough, and open signup makes them) had its whole history re-hashed or
// replayed on every request. Such whole-history reads are now limited per tenant: beyond
// the budget, 429 with Retry-After, and nothing is read.
func TestAudit_WholeHistoryReadsOfATenantPushedOutAreBudgeted(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	var head int64
	for i := 0; i < httpapi.ColdReadBudget; i++ {
		if i > 0 {
			httpapi.PushOutAudit(a.server, httpapi.MaxVerifiedTenants)
		}
		r := a.do(req{method: "GET", path: "/v1/audit/verify", token: ten.key})
		require.Equal(t, http.StatusOK, r.status, "whole-history read %d: %s", i+1, r.raw)
		require.Equal(t, true, r.get("ok"), string(r.raw))
		head = int64(r.get("head_seq").(float64))
	}
	require.Positive(t, head)
	rehashed := httpapi.RehashedEvents(a.server)
	require.Equal(t, int64(httpapi.ColdReadBudget)*head, rehashed)

	httpapi.PushOutAudit(a.server, httpapi.MaxVerifiedTenants)
	for _, path := range []string{"/v1/audit/verify", "/v1/audit/state"} {
		r := a.do(req{method: "GET", path: path, token: ten.key})
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s: %s", path, r.raw)
		require.Equal(t, "rate-limited", r.problemType())
		require.NotEmpty(t, r.header.Get("Retry-After"))
	}
	require.Equal(t, rehashed, httpapi.RehashedEvents(a.server), "nothing re-hashed beyond the budget")
	require.Zero(t, httpapi.ReplayedEvents(a.server), "nothing replayed beyond the budget")
}

// The budget of replays to earlier instants is not reset by other tenants pushing the
// tenant out of the audit cache (it was kept for 256 tenants only).
func TestAuditState_TheEarlierInstantBudgetSurvivesOtherTenantsAuditing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	time.Sleep(10 * time.Millisecond)
	before := time.Now().UTC()
	time.Sleep(10 * time.Millisecond)
	inv := a.do(req{method: "POST", path: "/v1/members", token: ten.key, body: map[string]any{"email": "au@example.com", "role": "auditor"}})
	require.Equal(t, http.StatusCreated, inv.status, string(inv.raw))
	asOf := func(i int) string {
		return "/v1/audit/state?as_of=" + url.QueryEscape(before.Add(-time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano))
	}
	for i := 0; i < httpapi.HistoricalReplayBudget; i++ {
		r := a.do(req{method: "GET", path: asOf(i), token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
	}
	r := a.do(req{method: "GET", path: asOf(100), token: ten.key})
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))

	httpapi.PushOutAudit(a.server, httpapi.MaxVerifiedTenants)
	r = a.do(req{method: "GET", path: asOf(101), token: ten.key})
	require.Equal(t, http.StatusTooManyRequests, r.status, "the budget is still spent: %s", r.raw)
	require.NotEmpty(t, r.header.Get("Retry-After"))
}
