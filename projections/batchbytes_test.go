package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// bigUsageBatch is a usage batch event of 1,000 records whose random 255-byte keys make it
// about 300 KB stored (random text does not compress).
func bigUsageBatch(t testing.TB) usage.BatchRecorded {
	metric, _ := usage.ParseMetric("api_calls")
	q, _ := usage.NewQuantity(3)
	now := time.Now().UTC()
	b := usage.BatchRecorded{Records: make([]usage.Recorded, 1000)}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	buf := make([]byte, 255)
	for i := range b.Records {
		for j := range buf {
			buf[j] = alphabet[rand.IntN(len(alphabet))]
		}
		key, err := usage.ParseIdempotencyKey(string(buf))
		require.NoError(t, err)
		r, err := usage.NewRecord(metric, q, now.Add(-time.Minute), key, now)
		require.NoError(t, err)
		b.Records[i] = r
	}
	return b
}

// A tenant that stores large usage batches (as an editor key can) is projected in batches
// whose documents stay under BatchBytes, on the group fast path, one by one and in a
// rebuild, and every record still counts exactly once.
func TestProjector_LargeUsageEventsAreProjectedInBatchesBoundedInBytes(t *testing.T) {
	f := isolatedFixture(t, 4)
	p := f.projector()
	p.BatchSize = 500
	p.BatchBytes = 1 << 20
	id := f.createTenant(t)
	f.projectAll(t, p, id)

	const events = 40
	appendBig := func() {
		for range events {
			f.append(t, id, usage.StreamID, bigUsageBatch(t))
		}
	}
	// Every read is checked against the documents' stored sizes.
	size := map[int64]int{}
	measure := func() {
		f.inTenant(t, id, func(tx pgx.Tx) {
			rows, err := tx.Query(context.Background(), `SELECT seq, pg_column_size(data) + pg_column_size(metadata) FROM tenantry.events WHERE tenant_id = $1`, id)
			require.NoError(t, err)
			var seq int64
			var n int
			_, err = pgx.ForEachRow(rows, []any{&seq, &n}, func() error { size[seq] = n; return nil })
			require.NoError(t, err)
		})
	}
	var mu sync.Mutex
	var reads, maxBytes int
	var errs []string
	p.onRead = func(tenant uuid.UUID, read []eventstore.Event) {
		mu.Lock()
		defer mu.Unlock()
		if tenant != id || len(read) == 0 {
			return
		}
		reads++
		total := 0
		for _, e := range read {
			total += size[e.Seq]
		}
		maxBytes = max(maxBytes, total)
		if total > p.BatchBytes && len(read) > 1 {
			errs = append(errs, fmt.Sprintf("a batch of %d events (seq %d to %d) holds %d bytes", len(read), read[0].Seq, read[len(read)-1].Seq, total))
		}
	}
	calls := func() (n int64) {
		f.inTenant(t, id, func(tx pgx.Tx) {
			require.NoError(t, tx.QueryRow(context.Background(), `SELECT coalesce(sum(quantity), 0) FROM usage_daily`).Scan(&n))
		})
		return n
	}

	// The group fast path.
	appendBig()
	measure()
	require.Greater(t, size[int64(len(size))], 200_000, "the test events are large as stored")
	for {
		more := map[uuid.UUID]bool{}
		alone, err := p.projectGroup(context.Background(), []uuid.UUID{id}, more)
		require.NoError(t, err)
		require.Empty(t, alone)
		if !more[id] {
			break
		}
	}
	require.Empty(t, errs)
	require.GreaterOrEqual(t, reads, events/4, "several batches")
	require.EqualValues(t, events*1000*3, calls())

	// One by one (both projections read every event).
	appendBig()
	measure()
	reads = 0
	f.projectAll(t, p, id)
	require.Empty(t, errs)
	require.GreaterOrEqual(t, reads, events/4, "several batches")
	require.EqualValues(t, 2*events*1000*3, calls())

	// A rebuild replays the whole history the same way.
	reads = 0
	require.NoError(t, p.Rebuild(context.Background(), id, nil))
	require.Empty(t, errs)
	require.GreaterOrEqual(t, reads, 2*events/4, "several batches")
	require.EqualValues(t, 2*events*1000*3, calls())
	t.Logf("largest batch read: %d bytes", maxBytes)
}
