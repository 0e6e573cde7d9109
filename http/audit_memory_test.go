package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// A page of the audit export, and of the replay behind GET /v1/audit/state, was up to 10,000
// events read into memory at once. A usage batch event holds up to 1,000 records (about
// 1 MiB), so one request of a tenant that had posted 10,000 batches held gigabytes
// (measured against tenantry serve: 300 batches of 350 KB raised the API's RSS by 93 MB
// for /v1/audit/events and by 190 MB for /v1/audit/state). Pages are now bounded in bytes
// too. Not parallel: it measures this process's heap.
func TestAuditReads_HoldABoundedPageOfLargeEvents(t *testing.T) {
	a := newAPI(t)
	ten := a.createTenant("pro")
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	random := make([]byte, 100)
	var last int64
	for i := 0; i < 200; i++ { // about 300 KB each, 60 MB in all
		var b strings.Builder
		b.WriteString(`{"records":[`)
		for j := 0; j < 1000; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			_, err := rand.Read(random)
			require.NoError(t, err)
			fmt.Fprintf(&b, `{"metric":"api_calls","quantity":1,"occurred_at":%q,"idempotency_key":%q}`, at, hex.EncodeToString(random))
		}
		b.WriteString(`]}`)
		res, err := a.deps.Store.Append(context.Background(), uuid.MustParse(ten.id), usage.StreamID, eventstore.Any,
			eventstore.NewEvent{Type: usage.TypeBatchRecorded, SchemaVersion: 1, Data: []byte(b.String())})
		require.NoError(t, err)
		last = res.LastSeq
	}
	// The projector reads batches of its own: let it finish first.
	r := a.do(req{method: "GET", path: fmt.Sprintf("/v1/usage?min_seq=%d", last), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	defer debug.SetGCPercent(debug.SetGCPercent(10)) // garbage counts little against the peak
	for _, path := range []string{"/v1/audit/events", "/v1/audit/state"} {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		base, peak := m.HeapAlloc, m.HeapAlloc
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			var s runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				runtime.ReadMemStats(&s)
				peak = max(peak, s.HeapAlloc)
			}
		}()
		hr, err := http.NewRequest("GET", a.url+path, nil)
		require.NoError(t, err)
		hr.Header.Set("Authorization", "Bearer "+ten.key)
		res, err := http.DefaultClient.Do(hr)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, res.Body) // read as it comes: the client holds none of it
		res.Body.Close()
		close(stop)
		<-done
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Less(t, peak-base, uint64(24<<20), "%s held %d MiB at once", path, (peak-base)>>20)
	}
}
