package projections

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
)

// bigUsageBatch is a usage batch event of 1,000 records whose random 255-byte keys make it
// about 300 KB (random text does not compress).
func bigUsageBatch(t testing.TB) usage.BatchRecorded {
	metric, err := usage.ParseMetric("api_calls")
	require.NoError(t, err)
	q, err := usage.NewQuantity(3)
	require.NoError(t, err)
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
// whose documents stay within BatchBytes (a batch passes it only with one event), on the
// group fast path, one by one and in a rebuild, and every record still counts exactly once.
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
	// sizes are the events' documents as the projector reads them (jsonb text, the binary
	// form's version byte aside), by seq.
	sizes := func() map[int64]int {
		size := map[int64]int{}
		f.inTenant(t, id, func(tx pgx.Tx) {
			rows, err := tx.Query(context.Background(), `SELECT seq, octet_length(data::text) + octet_length(metadata::text)
				FROM tenantry.events WHERE tenant_id = $1`, id)
			require.NoError(t, err)
			var seq int64
			var n int
			_, err = pgx.ForEachRow(rows, []any{&seq, &n}, func() error { size[seq] = n; return nil })
			require.NoError(t, err)
		})
		return size
	}
	// within checks batches of consecutive events from seq first on: together they are
	// every event up to last exactly once, at least min batches, and each holds at most
	// BatchBytes of documents unless it is one event.
	within := func(batches []int64, first, last int64, min int) {
		t.Helper()
		size := sizes()
		require.Greater(t, size[last], 200_000, "the test events are large")
		seq := first
		for _, n := range batches {
			require.Positive(t, n, "batches: %v", batches)
			total := 0
			for s := seq; s < seq+n; s++ {
				total += size[s]
			}
			if n > 1 {
				require.LessOrEqual(t, total, p.BatchBytes, "batch of seq %d to %d (batches: %v)", seq, seq+n-1, batches)
			}
			seq += n
		}
		require.Equal(t, last+1, seq, "every event once: %v", batches)
		require.GreaterOrEqual(t, len(batches), min, "several batches: %v", batches)
	}
	calls := func() (n int64) {
		f.inTenant(t, id, func(tx pgx.Tx) {
			require.NoError(t, tx.QueryRow(context.Background(), `SELECT coalesce(sum(quantity), 0) FROM usage_daily`).Scan(&n))
		})
		return n
	}
	usageCheckpoint := func() (seq int64) {
		f.inTenant(t, id, func(tx pgx.Tx) {
			require.NoError(t, tx.QueryRow(context.Background(), `SELECT seq FROM tenantry.projections WHERE tenant_id = $1 AND projection = $2`,
				id, ProjectionUsage).Scan(&seq))
		})
		return seq
	}

	// The group fast path: each transaction moves the usage checkpoint by its batch.
	start := usageCheckpoint()
	appendBig()
	var groupBatches []int64
	for {
		from := usageCheckpoint()
		more := map[uuid.UUID]bool{}
		alone, err := p.projectGroup(context.Background(), []uuid.UUID{id}, more, map[uuid.UUID][]string{})
		require.NoError(t, err)
		require.Empty(t, alone)
		groupBatches = append(groupBatches, usageCheckpoint()-from)
		if len(groupBatches) == 1 {
			// Cut at the bound: its next batches ask for few events, off the group path.
			require.True(t, p.smallPages(id))
			page := p.pageLimit(id, ProjectionUsage)
			require.LessOrEqual(t, page.Limit(), 2*int(groupBatches[0]))
		}
		if !more[id] {
			break
		}
	}
	if groupBatches[len(groupBatches)-1] == 0 {
		groupBatches = groupBatches[:len(groupBatches)-1] // found nothing more
	}
	within(groupBatches, start+1, start+events, 3*events/10)
	require.EqualValues(t, events*1000*3, calls())

	// One by one (the usage projection reads them and carries the auth checkpoint along),
	// and a rebuild of the whole history: every batch the projector applies (Observe).
	var mu sync.Mutex
	var batches []int64
	p.Observe = func(tenant uuid.UUID, n int, _ time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if tenant == id {
			batches = append(batches, int64(n))
		}
	}
	observed := func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		b := batches
		batches = nil
		return b
	}
	start = usageCheckpoint()
	appendBig()
	f.projectAll(t, p, id)
	within(observed(), start+1, start+events, 3*events/10)
	require.EqualValues(t, 2*events*1000*3, calls())

	require.NoError(t, p.Rebuild(context.Background(), id, nil))
	within(observed(), 1, start+events, 3*2*events/10)
	require.EqualValues(t, 2*events*1000*3, calls())
}
