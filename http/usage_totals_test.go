package httpapi_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// Usage totals have no bound: requests of maximal records add up past 2^53 in one hour, and
// past an int64 with records stored before usage.MaxQuantity. GET /v1/usage and GET
// /v1/billing and GET /v1/audit/state answer them exactly and safely: a JSON number up to 2^53-1, a string of digits
// beyond (a JavaScript client reads the number 10000000000000001 as 10000000000000000). They
// were JSON numbers of any size in GET /v1/usage, and GET /v1/billing capped its sums at
// 2^63-1, answering a difference of 0 for a window never reported.
func TestUsage_TotalsBeyondTwoToThe53AreAnsweredAsStringsOfDigits(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("enterprise")
	// Both windows end at least an hour before the current one, so they are closed whatever the
	// minute (the cutoff trails the clock by the billing settle time, 5 minutes).
	hour := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	at := hour.Add(time.Minute).Format(time.RFC3339)
	var seq string
	for i := 0; i < 10; i++ { // 10 × 1,000 × 10^12 > 2^53
		var b strings.Builder
		b.WriteString(`{"records":[`)
		for j := 0; j < 1000; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"metric":"api_calls","quantity":%d,"occurred_at":%q,"idempotency_key":"%d-%d"}`, usage.MaxQuantity, at, i, j)
		}
		b.WriteString(`]}`)
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: b.String()})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
		seq = jsonNumber(t, r.get("seq"))
	}
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "occurred_at": at, "idempotency_key": "one"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "storage_gb", "quantity": 3, "occurred_at": at, "idempotency_key": "small"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	// Two records of 2^63-1 stored before the bound, an hour later.
	later := hour.Add(time.Hour + time.Minute).Format(time.RFC3339)
	for i := 0; i < 2; i++ {
		res, err := a.deps.Store.Append(context.Background(), uuid.MustParse(ten.id), usage.StreamID, eventstore.Any, eventstore.NewEvent{Type: usage.TypeRecorded, SchemaVersion: 1,
			Data: []byte(fmt.Sprintf(`{"metric":"api_calls","quantity":9223372036854775807,"occurred_at":%q,"idempotency_key":"old-%d"}`, later, i))})
		require.NoError(t, err)
		seq = fmt.Sprint(res.LastSeq)
	}

	from, to := hour.Format(time.RFC3339), hour.Add(2*time.Hour).Format(time.RFC3339)
	r = a.do(req{method: "GET", path: "/v1/usage?granularity=hour&from=" + from + "&to=" + to + "&min_seq=" + seq, token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), `{"metric":"api_calls","points":[{"start":"`+from+`","quantity":"10000000000000001"},`+
		`{"start":"`+hour.Add(time.Hour).Format(time.RFC3339)+`","quantity":"18446744073709551614"}],"total":"18456744073709551615"}`)
	require.Contains(t, string(r.raw), `{"metric":"storage_gb","points":[{"start":"`+from+`","quantity":3}],"total":3}`, "small totals stay numbers")

	r = a.do(req{method: "GET", path: "/v1/usage?granularity=day&metric=api_calls&min_seq=" + seq, token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), `"total":"18456744073709551615"`)

	r = a.do(req{method: "GET", path: "/v1/billing?min_seq=" + seq, token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	// The two windows may fall in two months (just after midnight on the 1st): add the lines up.
	recorded, difference, windows := new(big.Int), new(big.Int), 0.0
	for _, l := range r.get("usage").([]any) {
		l := l.(map[string]any)
		if l["metric"] != "api_calls" {
			continue
		}
		require.Equal(t, float64(0), l["reported"], "%v", l)
		for _, f := range []struct {
			sum *big.Int
			v   any
		}{{recorded, l["recorded"]}, {difference, l["difference"]}} {
			s, ok := f.v.(string)
			require.True(t, ok, "a sum beyond 2^53 is a string: %v", l)
			v, ok := new(big.Int).SetString(s, 10)
			require.True(t, ok, s)
			f.sum.Add(f.sum, v)
		}
		windows += l["unreported_windows"].(float64)
	}
	require.Equal(t, "18456744073709551615", recorded.String(), string(r.raw))
	require.Equal(t, "18456744073709551615", difference.String(), string(r.raw))
	require.Equal(t, float64(2), windows, string(r.raw))

	// The audit replay's totals follow the same rule (they were JSON numbers of any size).
	r = a.do(req{method: "GET", path: "/v1/audit/state", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), `"api_calls":"18456744073709551615"`)
	require.Contains(t, string(r.raw), `"storage_gb":3`)
}
