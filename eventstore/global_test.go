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
	s := workerStore(t, writers+2)
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

// The cursor waits for transactions that may write events, and only for them: a long
// transaction that writes something else (or works in another database) holds nothing back.
func TestReadAll_WaitsForEventWritersOnly(t *testing.T) {
	t.Parallel()
	s := appStore(t, 6)
	follower := workerStore(t, 2) // the global cursor is the worker's
	ctx := context.Background()
	start, err := currentCursor(follower)
	require.NoError(t, err)
	pool := s.Pool()

	// A non-writer with a transaction id, held open.
	other := newTenant(t)
	slow, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer slow.Rollback(ctx)
	_, err = slow.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, other.String())
	require.NoError(t, err)
	_, err = slow.Exec(ctx, `INSERT INTO tenantry.idempotency_keys (tenant_id, principal, key, request_hash) VALUES ($1, 'p', 'k', '\x00')`, other)
	require.NoError(t, err)

	a := newTenant(t)
	_, err = s.Append(ctx, a, "s", eventstore.Any, evs("thing.happened", 2)...)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return countAfter(t, follower, start, a) == 2 }, 30*time.Second, 10*time.Millisecond,
		"a transaction that writes no events does not hold the cursor back")

	// A writer holding its transaction open does hold back later events, until it commits.
	mark, err := currentCursor(follower)
	require.NoError(t, err)
	w := newTenant(t)
	writer, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer writer.Rollback(ctx)
	_, err = writer.Exec(ctx, `SELECT * FROM tenantry.append_events(set_config('tenantry.tenant_id', $1::text, true)::uuid, 's', -1,
		ARRAY[$2::uuid], ARRAY['thing.happened'], ARRAY[1], ARRAY['{}'], ARRAY['{}'])`, w.String(), uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	b := newTenant(t)
	_, err = s.Append(ctx, b, "s", eventstore.Any, evs("thing.happened", 1)...)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, countAfter(t, follower, mark, b), "an event committed after an open writer's waits for it")
	require.NoError(t, writer.Commit(ctx))
	require.Eventually(t, func() bool { return countAfter(t, follower, mark, w) == 1 && countAfter(t, follower, mark, b) == 1 }, 30*time.Second, 10*time.Millisecond)

	// Appending after another write in the same transaction is refused.
	mixed, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer mixed.Rollback(ctx)
	_, err = mixed.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, other.String())
	require.NoError(t, err)
	_, err = mixed.Exec(ctx, `INSERT INTO tenantry.idempotency_keys (tenant_id, principal, key, request_hash) VALUES ($1, 'p', 'k2', '\x00')`, other)
	require.NoError(t, err)
	_, err = mixed.Exec(ctx, `SELECT * FROM tenantry.append_events($1, 's', -1, ARRAY[$2::uuid], ARRAY['thing.happened'], ARRAY[1], ARRAY['{}'], ARRAY['{}'])`,
		other, uuid.Must(uuid.NewV7()))
	require.ErrorContains(t, err, "before any other write")
}

// countAfter counts the tenant's events the global cursor delivers after c.
func countAfter(t *testing.T, s *eventstore.Store, c eventstore.GlobalCursor, tenant uuid.UUID) int {
	n := 0
	for {
		page, next, err := s.ReadAll(context.Background(), c, eventstore.MaxPage)
		require.NoError(t, err)
		for _, e := range page {
			if e.TenantID == tenant {
				n++
			}
		}
		if len(page) == 0 {
			return n
		}
		c = next
	}
}
