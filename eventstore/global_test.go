package eventstore_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// The classic failure of sequence cursors: a transaction that took a lower position commits
// after one with a higher position, and a reader that already moved past skips it forever.
// Here 16 writers append 100,000 events over 200 tenants in batches of 1 to 8, while a
// reader follows the global cursor; it must see every event exactly once.
func TestReadAll_FollowerSeesEveryCommittedEventExactlyOnce(t *testing.T) {
	t.Parallel()
	const (
		writers = 16
		tenants = 200
		total   = 100_000
	)
	s := appStore(t, writers+2)
	ids := make([]uuid.UUID, tenants)
	ours := make(map[uuid.UUID]int, tenants)
	for i := range ids {
		ids[i] = newTenant(t)
		ours[ids[i]] = i
	}
	// Start the reader after whatever other tests wrote so far.
	start, err := currentCursor(s)
	require.NoError(t, err)

	var written atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { written.Store(total); wg.Wait() }) // on failure, stop writers before the pool closes
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for {
				n := 1 + rng.IntN(8)
				if left := total - written.Add(int64(n)); left < 0 {
					n += int(left) // the last batch takes only what is left
					if n <= 0 {
						return
					}
				}
				tenant := ids[rng.IntN(tenants)]
				_, err := s.Append(context.Background(), tenant, "s", eventstore.Any, evs("thing.happened", n)...)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}(w)
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	seen := make(map[uuid.UUID]struct{}, total)
	lastSeq := make([]int64, tenants)
	cursor := start
	deadline := time.Now().Add(3 * time.Minute)
	doneWriting := false
	for len(seen) < total {
		require.True(t, time.Now().Before(deadline), "reader saw %d of %d events", len(seen), total)
		page, next, err := s.ReadAll(context.Background(), cursor, 1000)
		require.NoError(t, err)
		require.False(t, next.Less(cursor), "cursor never moves back")
		for _, e := range page {
			i, mine := ours[e.TenantID]
			if !mine {
				continue
			}
			_, dup := seen[e.ID]
			require.False(t, dup, "event %s delivered twice", e.ID)
			seen[e.ID] = struct{}{}
			// Per tenant, the global order is seq order with no holes.
			require.Equal(t, lastSeq[i]+1, e.Seq, "tenant %s", e.TenantID)
			lastSeq[i] = e.Seq
		}
		cursor = next
		if len(page) == 0 {
			select {
			case <-writersDone:
				if doneWriting {
					// Everything is committed; the cursor only waits for older transactions.
					time.Sleep(20 * time.Millisecond)
				}
				doneWriting = true
			default:
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	<-writersDone
	require.Equal(t, total, len(seen))

	// Every tenant's stream, read directly, is gapless and matches what the reader saw.
	var sum int64
	for i, tenant := range ids {
		rep, err := s.VerifyChain(context.Background(), tenant)
		require.NoError(t, err)
		require.True(t, rep.OK, "%+v", rep)
		require.Equal(t, lastSeq[i], rep.HeadSeq)
		sum += rep.Events
	}
	require.Equal(t, int64(total), sum)
}

// currentCursor reads to the end of the global order as it stands.
func currentCursor(s *eventstore.Store) (eventstore.GlobalCursor, error) {
	var c eventstore.GlobalCursor
	for {
		page, next, err := s.ReadAll(context.Background(), c, eventstore.MaxPage)
		if err != nil || len(page) == 0 {
			return c, err
		}
		c = next
	}
}
