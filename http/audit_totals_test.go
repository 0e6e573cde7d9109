package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// GET /v1/audit/state summed each metric's records in an int64: two records of 2^63-1
// (stored before usage.MaxQuantity, which events keep replaying) answered a usage total of
// -2, and so would enough records of 10^12. The totals are exact now, however large, and
// stay exact when the cached history is folded further (beyond 2^53-1 as strings of digits,
// as every usage total of the API).
func TestAuditState_UsageTotalsAreExactBeyondAnInt64(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	poison(t, a, ten.id) // api_calls: 2 × (2^63-1)

	r := a.do(req{method: "GET", path: "/v1/audit/state", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), `"usage_totals":{"api_calls":"18446744073709551614"}`)

	u := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 5, "idempotency_key": "more"}})
	require.Equal(t, http.StatusAccepted, u.status, string(u.raw))
	r = a.do(req{method: "GET", path: "/v1/audit/state", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), `"usage_totals":{"api_calls":"18446744073709551619"}`)
}
