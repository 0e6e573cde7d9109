package usage_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// A batch names its records' requests only when they came in several (coalesced) requests;
// either way it decodes to the same records, and Records returns them.
func TestBatchRecorded_NamesRequestsOnlyWhenCoalesced(t *testing.T) {
	m, q, k := parts(t)
	r, err := usage.NewRecord(m, q, now, k, now)
	require.NoError(t, err)

	one, err := json.Marshal(usage.BatchRecorded{Records: []usage.Recorded{r, r}})
	require.NoError(t, err)
	require.NotContains(t, string(one), "request_ids")

	coalesced := usage.BatchRecorded{Records: []usage.Recorded{r, r}, RequestIDs: []string{"req-a", "req-b"}}
	raw, err := json.Marshal(coalesced)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"request_ids":["req-a","req-b"]`)
	var back usage.BatchRecorded
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, coalesced, back)
	recs, ok := usage.Records(back)
	require.True(t, ok)
	require.Equal(t, []usage.Recorded{r, r}, recs)
}

// Sums per metric and window are checked: records whose total would not fit an int64 are
// refused as a limit, never wrapped around (two maximal int64 records summed to -2).
func TestCheckTotals_RefusesSumsBeyondInt64(t *testing.T) {
	var recs []usage.Recorded
	for i := 0; i < 2; i++ {
		var r usage.Recorded
		require.NoError(t, json.Unmarshal([]byte(`{"metric":"api_calls","quantity":9223372036854775807,"occurred_at":"2025-03-01T12:00:00Z","idempotency_key":"k"}`), &r))
		recs = append(recs, r)
	}
	err := usage.CheckTotals(recs)
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	require.Equal(t, domain.CodeLimit, de.Code)
	require.NoError(t, usage.CheckTotals(recs[:1]))

	m, q, k := parts(t)
	r, err := usage.NewRecord(m, q, now, k, now)
	require.NoError(t, err)
	require.NoError(t, usage.CheckTotals([]usage.Recorded{r, r, r}))
}
