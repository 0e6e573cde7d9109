package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	httpapi "github.com/tenantry/tenantry/http"
)

// testDefinitions declares storage_gb (a gauge billed by its maximum, 2 decimal places)
// and disk_gb (a gauge billed by its last reading, 3 places); api_calls stays undeclared.
func testDefinitions(t testing.TB) usage.StaticDefinitions {
	t.Helper()
	defs := usage.StaticDefinitions{}
	for _, d := range []struct {
		metric string
		agg    usage.Aggregation
		scale  int
	}{{"storage_gb", usage.AggregationMax, 2}, {"disk_gb", usage.AggregationLast, 3}} {
		m, err := usage.ParseMetric(d.metric)
		require.NoError(t, err)
		def := usage.Definition{Metric: m, Kind: usage.KindGauge, Aggregation: d.agg, Scale: d.scale, Unit: "GB"}
		require.NoError(t, def.Validate())
		defs[m] = def
	}
	return defs
}

func withDefinitions(defs usage.Definitions) apiOption {
	return func(d *httpapi.Deps) { d.Definitions = defs }
}

// A quantity may carry up to its metric's declared decimal places: more places, or any for
// an undeclared metric, are refused with a problem naming the field, as before decimals.
func TestUsage_DecimalQuantitiesFollowTheMetricsScale(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withDefinitions(testDefinitions(t)))
	ten := a.createTenant("pro")
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	one := func(metric, q string) string {
		return fmt.Sprintf(`{"metric":%q,"quantity":%s,"occurred_at":%q,"idempotency_key":%q}`, metric, q, at, uuid.NewString())
	}
	for _, tc := range []struct {
		body, field string
		status      int
	}{
		{one("storage_gb", "1.255"), "quantity", http.StatusBadRequest},
		{one("api_calls", "1.5"), "quantity", http.StatusBadRequest},
		{one("api_calls", "1.0"), "quantity", http.StatusBadRequest},
		{one("storage_gb", "1e2"), "quantity", http.StatusBadRequest},
		{one("storage_gb", "0.00"), "quantity", http.StatusBadRequest},
		{one("storage_gb", "-1.5"), "quantity", http.StatusBadRequest},
		{one("storage_gb", "1000000000000.01"), "quantity", http.StatusUnprocessableEntity},
		{`{"records":[` + one("storage_gb", "1.25") + `,` + one("storage_gb", "1.125") + `]}`, "records[1].quantity", http.StatusBadRequest},
	} {
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: tc.body})
		require.Equal(t, tc.status, r.status, "%s: %s", tc.body, r.raw)
		require.Equal(t, tc.field, r.get("errors").([]any)[0].(map[string]any)["field"], "%s: %s", tc.body, r.raw)
	}

	// The refusal of a fraction for an undeclared metric reads exactly as before decimals.
	plain := newAPI(t)
	pten := plain.createTenant("pro")
	before := plain.do(req{method: "POST", path: "/v1/usage", token: pten.key, body: one("api_calls", "1.5")})
	after := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: one("api_calls", "1.5")})
	require.Equal(t, before.status, after.status)
	require.Equal(t, before.str("detail"), after.str("detail"))
	require.Equal(t, before.get("errors"), after.get("errors"))

	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key,
		body: `{"records":[` + one("storage_gb", "1.25") + `,` + one("storage_gb", "2.50") + `,` + one("api_calls", "3") + `]}`})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: one("storage_gb", "0.05")})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/usage?granularity=day&min_seq=" + jsonNumber(t, r.get("seq")), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), `{"metric":"api_calls","points":[{"start":"`, "a counter's series is as before")
	require.Contains(t, string(r.raw), `"quantity":3}],"total":3}`, "a counter's series is as before: %s", r.raw)
	series := r.get("series").([]any)
	require.Len(t, series, 2)
	storage := series[1].(map[string]any)
	require.Equal(t, "storage_gb", storage["metric"])
	require.Equal(t, 3.8, storage["total"], "1.25 + 2.5 + 0.05, exactly: %s", r.raw)
	require.Contains(t, string(r.raw), `"total":3.8,`)
	require.Equal(t, "max", storage["aggregation"])
	require.Equal(t, 2.5, storage["value"])
}

// GET /v1/usage answers a gauge's value over the range by its aggregation: the highest
// reading (max) or the last by occurred_at (last), whatever order the readings came in.
func TestUsage_GaugesAnswerTheirMaxOrLastReading(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withDefinitions(testDefinitions(t)))
	ten := a.createTenant("pro")
	hour := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	post := func(metric, q string, at time.Time) string {
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: fmt.Sprintf(
			`{"metric":%q,"quantity":%s,"occurred_at":%q,"idempotency_key":%q}`, metric, q, at.Format(time.RFC3339), uuid.NewString())})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
		return jsonNumber(t, r.get("seq"))
	}
	post("disk_gb", "10.5", hour.Add(2*time.Hour+10*time.Minute)) // the last, sent first
	post("disk_gb", "99", hour.Add(20*time.Minute))
	post("disk_gb", "4.125", hour.Add(time.Hour))
	post("storage_gb", "3", hour.Add(2*time.Hour+10*time.Minute))
	post("storage_gb", "7.25", hour.Add(time.Minute)) // the maximum, sent late
	seq := post("storage_gb", "1", hour.Add(time.Hour))

	from, to := hour.Format(time.RFC3339), hour.Add(3*time.Hour).Format(time.RFC3339)
	r := a.do(req{method: "GET", path: "/v1/usage?granularity=hour&from=" + from + "&to=" + to + "&min_seq=" + seq, token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	series := r.get("series").([]any)
	require.Len(t, series, 2)
	disk, storage := series[0].(map[string]any), series[1].(map[string]any)
	require.Equal(t, "last", disk["aggregation"])
	require.Equal(t, 10.5, disk["value"], string(r.raw))
	require.Equal(t, "max", storage["aggregation"])
	require.Equal(t, 7.25, storage["value"], string(r.raw))
	first := disk["points"].([]any)[0].(map[string]any)
	require.Equal(t, 99.0, first["max"])
	require.Equal(t, 99.0, first["last"])
	require.Equal(t, hour.Add(20*time.Minute).Format(time.RFC3339), first["last_at"])

	// A narrower range answers the value within it.
	to = hour.Add(2 * time.Hour).Format(time.RFC3339)
	r = a.do(req{method: "GET", path: "/v1/usage?granularity=hour&metric=disk_gb&from=" + from + "&to=" + to, token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, 4.125, r.get("series").([]any)[0].(map[string]any)["value"], string(r.raw))
}
