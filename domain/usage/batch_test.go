package usage_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

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
