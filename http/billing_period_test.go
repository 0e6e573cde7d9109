package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBilling_AnswersPeriodsInTheFormItTakes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	now := time.Now().UTC()
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key,
		body: `{"metric":"api_calls","quantity":5,"occurred_at":"` + now.Format(time.RFC3339) + `","idempotency_key":"p-1"}`})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	seq := jsonNumber(t, r.get("seq"))
	period := now.Format("2006-01")
	for _, path := range []string{"/v1/billing?min_seq=" + seq, "/v1/billing?min_seq=" + seq + "&period=" + period} {
		r = a.do(req{method: "GET", path: path, token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		lines := r.get("usage").([]any)
		require.NotEmpty(t, lines, string(r.raw))
		found := false
		for _, l := range lines {
			p := l.(map[string]any)["period"].(string)
			_, err := time.Parse("2006-01", p)
			require.NoError(t, err, "period %q is YYYY-MM, as ?period= takes it", p)
			found = found || p == period
		}
		require.True(t, found, "%s: %s", path, r.raw)
	}
}
