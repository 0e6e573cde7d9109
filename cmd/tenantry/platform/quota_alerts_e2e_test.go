package platform

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// serve end to end: a soft quota's 80 % and 100 % alerts are recorded once each, in the
// tenant's audit stream, and delivered to the endpoint subscribed to them, however often
// serve restarts while the usage grows.
func TestServe_RecordsSoftQuotaAlertsOncePerPeriodAcrossRestarts(t *testing.T) {
	db := pgtest.New(t)
	const op = "operator-token-for-the-quota-alert-test"
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json", "TENANTRY_OPERATOR_TOKEN": op,
		"TENANTRY_WEBHOOK_KEY": strings.Repeat("5d", 32), "TENANTRY_WEBHOOK_ALLOW_PRIVATE": "1"}
	rcv := newReceiver(t)
	srv := launchServe(t, env)
	env["TENANTRY_ADDR"] = srv.addr // restarts listen where clients call
	srv.call("PUT", "/v1/admin/catalog", op, json.RawMessage(`{"metrics": [{"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0}],
	  "plans": [{"key": "metered", "name": "Metered", "intervals": {"monthly": {}}, "limits": {"seats": 5, "requests_per_second": 100, "burst": 100},
	    "metrics": {"api_calls": {"included": "100", "beyond": "soft"}}}]}`))
	created := srv.call("POST", "/v1/tenants", op, map[string]any{"name": "Alerted", "slug": "alerted", "plan": "metered", "admin_email": "admin@alerted.example.com"})
	key := created["api_key"].(map[string]any)["key"].(string)
	srv.call("POST", "/v1/webhook-endpoints", key, map[string]any{"url": rcv.URL + "/quota", "event_types": []string{"quota.threshold_crossed"}})

	use := func(n int) {
		srv.call("POST", "/v1/usage", key, map[string]any{"metric": "api_calls", "quantity": n, "idempotency_key": uuid.NewString()})
	}
	// delivered lists the thresholds of the distinct alerts the endpoint received.
	delivered := func() map[string]float64 {
		out := map[string]float64{}
		for _, g := range rcv.received() {
			var b struct {
				ID   string `json:"id"`
				Type string `json:"type"`
				Data struct {
					Threshold float64 `json:"threshold_percent"`
					Metric    string  `json:"metric"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(g.body, &b))
			require.Equal(t, "quota.threshold_crossed", b.Type)
			require.Equal(t, "api_calls", b.Data.Metric)
			out[b.ID] = b.Data.Threshold
		}
		return out
	}
	waitFor := func(n int) {
		require.Eventually(t, func() bool { return len(delivered()) == n }, 30*time.Second, 50*time.Millisecond)
	}
	restart := func() {
		srv.stop()
		srv = launchServe(t, env)
	}

	use(50)
	use(29) // 79: below 80 %
	use(1)  // 80
	waitFor(1)
	restart() // the sweep at start checks the tenant again: nothing new is due
	use(5)    // 85
	restart()
	use(15) // 100
	waitFor(2)
	restart()
	use(10) // 110: both thresholds were recorded already
	restart()

	// The audit stream holds exactly the two alerts, with the usage each one saw.
	req, _ := http.NewRequest("GET", "http://"+srv.addr+"/v1/audit/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(raw))
	var thresholds []float64
	var usages []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Type string `json:"type"`
			Data struct {
				Threshold float64 `json:"threshold_percent"`
				Usage     string  `json:"usage"`
				Included  string  `json:"included"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		if e.Type == "quota.threshold_crossed" {
			thresholds = append(thresholds, e.Data.Threshold)
			usages = append(usages, e.Data.Usage)
			require.Equal(t, "100", e.Data.Included)
		}
	}
	require.Equal(t, []float64{80, 100}, thresholds)
	require.Equal(t, []string{"80", "100"}, usages, "each noticed as soon as its usage was recorded")
	require.Len(t, delivered(), 2)
	srv.stop()
}
