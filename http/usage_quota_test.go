package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// quotaDoc keeps the default plans and adds one plan per behaviour beyond a quota:
// hardq refuses api_calls beyond 500 a month and storage_gb readings above 10; softq and
// overq only alert or bill; bigq's hard quota is never reached and plainq has none (the
// benchmark's pair).
const quotaDoc = `{"metrics": [{"metric": "storage_gb", "kind": "gauge", "aggregation": "max", "scale": 3, "unit": "GB"},
  {"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0, "meter": "api_calls"}],
"plans": [
  {"key": "free", "name": "Free", "intervals": {"monthly": {}}, "limits": {"seats": 3, "requests_per_second": 1000, "burst": 1000}},
  {"key": "pro", "name": "Pro", "intervals": {"monthly": {}}, "limits": {"seats": 25, "requests_per_second": 1000, "burst": 1000}},
  {"key": "enterprise", "name": "Enterprise", "intervals": {"monthly": {}}, "limits": {"seats": 10000, "requests_per_second": 500, "burst": 1000}},
  {"key": "hardq", "name": "Hard", "intervals": {"monthly": {}}, "limits": {"seats": 10, "requests_per_second": 100000, "burst": 100000},
   "metrics": {"api_calls": {"included": 500, "beyond": "hard"}, "storage_gb": {"included": "10", "beyond": "hard"}}},
  {"key": "softq", "name": "Soft", "intervals": {"monthly": {}}, "limits": {"seats": 10, "requests_per_second": 100000, "burst": 100000},
   "metrics": {"api_calls": {"included": 5, "beyond": "soft"}, "storage_gb": {"included": "1", "beyond": "soft"}}},
  {"key": "overq", "name": "Overage", "intervals": {"monthly": {}}, "limits": {"seats": 10, "requests_per_second": 100000, "burst": 100000},
   "metrics": {"api_calls": {"included": 5, "beyond": "overage"}}},
  {"key": "bigq", "name": "Big hard", "intervals": {"monthly": {}}, "limits": {"seats": 10, "requests_per_second": 1000000, "burst": 1000000},
   "metrics": {"api_calls": {"included": "999999999999", "beyond": "hard"}}},
  {"key": "plainq", "name": "No quota", "intervals": {"monthly": {}}, "limits": {"seats": 10, "requests_per_second": 1000000, "burst": 1000000}}
]}`

// newQuotaAPI is an API on a database of its own whose catalog is quotaDoc.
func newQuotaAPI(t testing.TB) *api {
	return withQuotaCatalog(t, newAPIOn(t, pgtest.New(t)))
}

// withQuotaCatalog applies quotaDoc to a's catalog.
func withQuotaCatalog(t testing.TB, a *api) *api {
	r := a.do(req{method: "PUT", path: "/v1/admin/catalog", token: operatorToken, body: quotaDoc})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	return a
}

// quotaOutcome is one POST /v1/usage: its records' quantities and the answer.
type quotaOutcome struct {
	quantity int
	status   int
	problem  string
	body     string
}

// requireQuotaProblem checks a 403 names the quota it refused for.
func requireQuotaProblem(t *testing.T, r response, metric, quota string) {
	t.Helper()
	require.Equal(t, http.StatusForbidden, r.status, string(r.raw))
	require.Equal(t, "quota-exceeded", r.problemType(), string(r.raw))
	require.Equal(t, metric, r.str("quota", "metric"), string(r.raw))
	require.Equal(t, quota, r.str("quota", "quota"), string(r.raw))
	end, err := time.Parse(time.RFC3339, r.str("quota", "period_end"))
	require.NoError(t, err, string(r.raw))
	require.Equal(t, 1, end.Day(), "a period ends at the start of a month: %s", r.raw)
}

// A hard quota holds exactly at its boundary under concurrency: 64 writers over real HTTP,
// with several API keys (several coalescer lanes), sending single records and small
// batches of quantity 1 to 3 against a quota of 500. Every answer is 202 or 403
// quota-exceeded; the accepted sum is at most 500 (no overshoot: the check is in the
// append's transaction, under the tenant's lock); and no refused request would have fit
// at the end: for each, 500 - accepted < its quantity (the sums only grow, and a request
// is refused only when it did not fit the room left when it was decided). The totals are
// the fold of the events. Then a duplicate of an accepted record is still a duplicate, and
// the previous month's quota is separate.
func TestUsageQuota_HardQuotaHoldsExactlyAtTheBoundaryUnderConcurrency(t *testing.T) {
	t.Parallel()
	a := newQuotaAPI(t)
	ten := a.createTenant("hardq")
	keys := []string{ten.key}
	for i := 0; i < 3; i++ {
		k := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": fmt.Sprint("w", i), "role": "editor"}})
		require.Equal(t, http.StatusCreated, k.status, string(k.raw))
		keys = append(keys, k.str("api_key", "key"))
	}

	var mu sync.Mutex
	var outcomes []quotaOutcome
	var accepted []map[string]any // the bodies of accepted requests (to retry one)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 8; i++ {
				var body map[string]any
				total := 0
				record := func(j int) map[string]any {
					q := 1 + rng.IntN(3)
					total += q
					return map[string]any{"metric": "api_calls", "quantity": q, "idempotency_key": fmt.Sprintf("w%d-%d-%d", w, i, j)}
				}
				if rng.IntN(3) == 0 {
					recs := []map[string]any{}
					for j := 0; j < 2+rng.IntN(3); j++ {
						recs = append(recs, record(j))
					}
					body = map[string]any{"records": recs}
				} else {
					body = record(0)
				}
				r := a.do(req{method: "POST", path: "/v1/usage", token: keys[w%len(keys)], body: body})
				mu.Lock()
				outcomes = append(outcomes, quotaOutcome{quantity: total, status: r.status, problem: r.problemType(), body: string(r.raw)})
				if r.status == http.StatusAccepted {
					accepted = append(accepted, body)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()

	sum, refused := 0, 0
	for _, o := range outcomes {
		switch o.status {
		case http.StatusAccepted:
			sum += o.quantity
		case http.StatusForbidden:
			require.Equal(t, "quota-exceeded", o.problem, o.body)
			refused++
		default:
			t.Fatalf("answer %d: %s", o.status, o.body)
		}
	}
	require.LessOrEqual(t, sum, 500, "no overshoot")
	require.Positive(t, refused, "the writers asked for more than 500")
	for _, o := range outcomes {
		if o.status == http.StatusForbidden {
			require.Less(t, 500-sum, o.quantity, "a refused request of %d would have fit the %d left: %s", o.quantity, 500-sum, o.body)
		}
	}

	// The totals are the fold of the stored events, and equal what was accepted.
	tenant := uuid.MustParse(ten.id)
	now := time.Now()
	snap, err := a.deps.Store.UsageTotals(context.Background(), tenant, usage.Period(now))
	require.NoError(t, err)
	require.Len(t, snap.Totals, 1)
	require.Equal(t, fmt.Sprint(sum), snap.Totals[0].Sum)
	stored, err := a.deps.Store.ReadTenant(context.Background(), tenant, 0, 10000)
	require.NoError(t, err)
	var events []usage.Event
	coalesced := 0
	for _, e := range stored {
		if recs, ok := decodeUsage(t, e.Type, e.Data); ok {
			events = append(events, usage.Event{Seq: e.Seq, Records: recs})
			if strings.Contains(string(e.Data), `"request_ids"`) {
				coalesced++
			}
		}
	}
	t.Logf("accepted %d of 500 in %d requests (%d refused), %d events, %d of them coalesced", sum, len(outcomes), refused, len(events), coalesced)
	fold := usage.FoldPeriod(usage.Period(now), events...)
	require.Len(t, fold, 1)
	require.Equal(t, snap.Totals[0].Sum, fold[0].Sum.String())
	require.Equal(t, snap.Totals[0].LastKey, fold[0].LastKey)

	// A retry of an accepted request after the quota is reached is a duplicate, not a 403.
	for _, body := range accepted[:3] {
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: body})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
		require.Equal(t, float64(0), r.get("accepted"), string(r.raw))
		require.Positive(t, r.get("duplicates"), string(r.raw))
	}
	// Filled to the brim, the quota refuses one more unit, and names what it refused for.
	if left := 500 - sum; left > 0 {
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": left, "idempotency_key": "brim"}})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	}
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "one-more"}})
	requireQuotaProblem(t, r, "api_calls", "500")
	require.Equal(t, "500", r.str("quota", "used"))

	// The previous month has a quota of its own: its last hour still takes usage.
	prev := usage.Period(now).Add(-time.Hour).Format(time.RFC3339)
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": []map[string]any{
		{"metric": "api_calls", "quantity": 300, "occurred_at": prev, "idempotency_key": "prev-1"},
		{"metric": "api_calls", "quantity": 200, "occurred_at": prev, "idempotency_key": "prev-2"}}}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "occurred_at": prev, "idempotency_key": "prev-3"}})
	requireQuotaProblem(t, r, "api_calls", "500")
	require.Equal(t, usage.Period(usage.Period(now).Add(-time.Hour)).Format(time.RFC3339), r.str("quota", "period_start"))
}

// decodeUsage is a stored event's usage records; ok is false for any other event.
func decodeUsage(t *testing.T, typ string, data []byte) ([]usage.Recorded, bool) {
	switch typ {
	case usage.TypeRecorded:
		var r usage.Recorded
		require.NoError(t, json.Unmarshal(data, &r))
		return []usage.Recorded{r}, true
	case usage.TypeBatchRecorded:
		var b usage.BatchRecorded
		require.NoError(t, json.Unmarshal(data, &b))
		return b.Records, true
	}
	return nil, false
}

// A gauge's hard quota bounds each reading, statelessly: a reading above it is refused
// (403, naming the reading), one at or below it accepted however many came before; a
// batch holding one reading above it is refused whole, writing nothing. Soft and overage
// quotas never refuse.
func TestUsageQuota_GaugesAreRefusedAboveTheQuotaAndSoftOrOverageNever(t *testing.T) {
	t.Parallel()
	a := newQuotaAPI(t)
	hard := a.createTenant("hardq")
	for i, q := range []string{"9.999", "10", "10"} {
		r := a.do(req{method: "POST", path: "/v1/usage", token: hard.key, body: fmt.Sprintf(`{"metric":"storage_gb","quantity":%s,"idempotency_key":"g%d"}`, q, i)})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	}
	r := a.do(req{method: "POST", path: "/v1/usage", token: hard.key, body: `{"metric":"storage_gb","quantity":10.001,"idempotency_key":"above"}`})
	requireQuotaProblem(t, r, "storage_gb", "10")
	require.Equal(t, "10.001", r.str("quota", "reading"))
	r = a.do(req{method: "POST", path: "/v1/usage", token: hard.key, body: `{"records":[{"metric":"api_calls","quantity":1,"idempotency_key":"b1"},{"metric":"storage_gb","quantity":11,"idempotency_key":"b2"}]}`})
	requireQuotaProblem(t, r, "storage_gb", "10")
	r = a.do(req{method: "POST", path: "/v1/usage", token: hard.key, body: `{"metric":"api_calls","quantity":1,"idempotency_key":"b1"}`})
	require.Equal(t, float64(1), r.get("accepted"), "the refused batch wrote nothing: %s", r.raw)

	for _, plan := range []string{"softq", "overq"} {
		ten := a.createTenant(plan)
		for i := 0; i < 3; i++ {
			r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 4, "idempotency_key": fmt.Sprint("c", i)}})
			require.Equal(t, http.StatusAccepted, r.status, "%s: %s", plan, r.raw)
			require.Equal(t, float64(1), r.get("accepted"))
		}
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: `{"metric":"storage_gb","quantity":7.5,"idempotency_key":"g"}`})
		require.Equal(t, http.StatusAccepted, r.status, "%s: %s", plan, r.raw)
		snap, err := a.deps.Store.UsageTotals(context.Background(), uuid.MustParse(ten.id), usage.Period(time.Now()))
		require.NoError(t, err)
		require.Equal(t, "12", snap.Totals[0].Sum, "%s: beyond the included 5", plan)
	}
}
