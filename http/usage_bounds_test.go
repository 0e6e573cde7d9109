package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// One answer holds a bounded number of points, however many metrics a tenant records.
func TestUsage_AnAnswerOfTooManyPointsIsRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("enterprise")
	now := time.Now().UTC().Truncate(time.Hour)
	var last response
	const metrics, hours = 15, 700 // 10,500 points
	for m := 0; m < metrics; m++ {
		recs := make([]any, 0, hours)
		for h := 1; h <= hours; h++ {
			recs = append(recs, map[string]any{"metric": fmt.Sprintf("metric_%d", m), "quantity": 1,
				"occurred_at": now.Add(-time.Duration(h) * time.Hour).Format(time.RFC3339), "idempotency_key": fmt.Sprintf("%d-%d", m, h)})
		}
		last = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": recs}})
		require.Equal(t, http.StatusAccepted, last.status, string(last.raw))
	}
	from := url.QueryEscape(now.Add(-30 * 24 * time.Hour).Format(time.RFC3339))
	r := a.do(req{method: "GET", path: "/v1/usage?granularity=hour&from=" + from + "&min_seq=" + jsonNumber(t, last.get("seq")), token: ten.key})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%.300s", r.raw)
	require.Equal(t, "invalid-request", r.problemType())
	require.Contains(t, r.str("detail"), "10000 points")
	r = a.do(req{method: "GET", path: "/v1/usage?granularity=hour&metric=metric_3&from=" + from, token: ten.key})
	require.Equal(t, http.StatusOK, r.status, "%.300s", r.raw)
	require.Equal(t, float64(hours), r.get("series").([]any)[0].(map[string]any)["total"])
}
