package billing_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

const e2eOperatorToken = "operator-token-for-the-end-to-end-billing-test"

// e2eAPI serves the HTTP API (on the runtime role, as serve does) over the env's database,
// with metric definitions, and returns its URL.
func e2eAPI(t *testing.T, e *env, defs usage.Definitions) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	notifier := eventstore.NewNotifier(pgtest.Pool(t, testDB.WorkerURL, 2), 0, log)
	store, err := eventstore.NewStore(pgtest.Pool(t, testDB.AppURL, 8), eventstore.StoreConfig{Notifier: notifier})
	require.NoError(t, err)
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Logger: log, Store: store, Registry: e.registry, OperatorToken: e2eOperatorToken,
		Plans: domain.DefaultPlans(), Definitions: defs, SettleTimeout: time.Minute}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func post(t *testing.T, url, token string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	r, err := http.NewRequest("POST", url, bytes.NewReader(b))
	require.NoError(t, err)
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Less(t, res.StatusCode, 300, "%s: %v", url, out)
	return out
}

// Decimal quantities and gauges end to end: posted to the API, stored as events, summed
// (and their max and last kept) by the projector, pushed by the billing worker, and what
// stripe-mock received is exactly the counter's decimal sum, the gauge's maximum (as the
// sum of its rises) and its last reading.
func TestEndToEnd_DecimalAndGaugeUsagePostedToTheAPIReachStripeExactly(t *testing.T) {
	e := newEnv(t)
	list := []usage.Definition{
		def(t, "gpu_hours", usage.KindCounter, usage.AggregationSum, 3),
		def(t, "storage_gb", usage.KindGauge, usage.AggregationMax, 2),
		def(t, "disk_gb", usage.KindGauge, usage.AggregationLast, 3),
	}
	defs := usage.StaticDefinitions{}
	for _, d := range list {
		defs[d.Metric] = d
	}
	url := e2eAPI(t, e, defs)
	slug := fmt.Sprintf("e2e-%d", slugs.Add(1)+time.Now().UnixNano()%1e6)
	created := post(t, url+"/v1/tenants", e2eOperatorToken, map[string]any{"name": "End to end", "slug": slug, "plan": "pro", "admin_email": "a@" + slug + ".example.com"})
	id := uuid.MustParse(created["tenant"].(map[string]any)["id"].(string))
	key := created["api_key"].(map[string]any)["key"].(string)

	win := e.clock().Truncate(time.Hour).Add(-2 * time.Hour)
	rec := func(metric, q string, minute int) string {
		return fmt.Sprintf(`{"metric":%q,"quantity":%s,"occurred_at":%q,"idempotency_key":%q}`,
			metric, q, win.Add(time.Duration(minute)*time.Minute).Format(time.RFC3339), uuid.NewString())
	}
	body := `{"records":[` + rec("gpu_hours", "1.25", 1) + `,` + rec("gpu_hours", "0.125", 2) + `,` +
		rec("storage_gb", "7.5", 3) + `,` + rec("storage_gb", "12.25", 4) + `,` + rec("storage_gb", "3", 5) + `,` +
		rec("disk_gb", "4.125", 50) + `,` + rec("disk_gb", "99", 10) + `]}`
	post(t, url+"/v1/usage", key, body)
	post(t, url+"/v1/usage", key, rec("gpu_hours", "2.005", 30)) // a single record, coalesced or not

	runTenant(t, e.worker(defined(t, list...)), id)
	gpu := sent(t, e, "gpu_hours")
	require.Len(t, gpu, 1)
	require.Equal(t, "3.38", gpu[0].Text, "1.25 + 0.125 + 2.005, exactly")
	require.Equal(t, "12.25", sum(t, sent(t, e, "storage_gb")), "the period's maximum")
	disk := sent(t, e, "disk_gb")
	require.Len(t, disk, 1)
	require.Equal(t, "4.125", disk[0].Text, "the last reading by occurred_at, not by arrival")
	require.Equal(t, win.Add(50*time.Minute).Unix(), disk[0].Timestamp)
}
