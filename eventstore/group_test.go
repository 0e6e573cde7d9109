package eventstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// A group that fails anywhere is rolled back whole and replayed one append at a time: the
// bad append gets its own error and every other append lands exactly once.
func TestGroupCommit_OneBadAppendDoesNotSinkItsGroup(t *testing.T) {
	t.Parallel()
	s := withGroupCommit(t, appStore(t, 8).Pool(), 2) // a store of its own, so the committer is ours
	g := s.GroupCommitter()                           // one committer: concurrent appends must share groups
	stale := newTenant(t)
	_, err := s.Append(context.Background(), stale, "s", eventstore.NoStream, ev("thing.happened", 0))
	require.NoError(t, err)

	// Until the stale append has sunk a group at least once (it may land alone by chance),
	// and some group has committed whole (on a loaded machine the appends may come in so
	// spread out that they go one at a time for a while).
	for round := 0; round < 5 || replayed(g) == 0 || groupedOf(g) == 0; round++ {
		require.Less(t, round, 50, "no group ever carried the stale append, or none committed whole")
		tenants := make([]uuid.UUID, 30)
		errs := make([]error, len(tenants)+1)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range tenants {
			tenants[i] = newTenant(t)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				_, errs[i] = s.Append(context.Background(), tenants[i], "s", eventstore.Any, evs("thing.happened", 2)...)
			}(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[len(tenants)] = s.Append(context.Background(), stale, "s", eventstore.NoStream, ev("thing.happened", 1))
		}()
		close(start)
		wg.Wait()
		for i := range tenants {
			require.NoError(t, errs[i])
			events, err := s.ReadTenant(context.Background(), tenants[i], 0, 0)
			require.NoError(t, err)
			require.Len(t, events, 2)
		}
		require.ErrorIs(t, errs[len(tenants)], eventstore.ErrConcurrency)
	}
	events, err := s.ReadTenant(context.Background(), stale, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, 1)
	grouped, _ := g.Stats()
	require.Positive(t, grouped, "appends did share transactions")
}

func groupedOf(g *eventstore.GroupCommitter) int64 {
	n, _ := g.Stats()
	return n
}

func replayed(g *eventstore.GroupCommitter) int64 {
	_, r := g.Stats()
	return r
}

// Concurrent Any appends to one stream share one statement; each still gets exactly its own
// events, contiguous and in order.
func TestGroupCommit_MergedAppendsEachGetTheirOwnEvents(t *testing.T) {
	t.Parallel()
	s := withGroupCommit(t, appStore(t, 8).Pool(), 2)
	tenant := newTenant(t)
	const writers = 40
	results := make([]eventstore.AppendResult, writers)
	errs := make([]error, writers)
	sent := make([][]eventstore.NewEvent, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		sent[i] = evs("usage.recorded", 1+i%3)
		for j := range sent[i] {
			sent[i][j].ID = uuid.Must(uuid.NewV7())
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i], errs[i] = s.Append(context.Background(), tenant, "usage", eventstore.Any, sent[i]...)
		}(i)
	}
	close(start)
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i], "append %d", i)
	}
	stored, err := s.ReadTenant(context.Background(), tenant, 0, 0)
	require.NoError(t, err)
	txs, statements := statementsOf(t, stored, results)
	require.Less(t, statements, writers, "some appends were merged into one statement")
	require.LessOrEqual(t, txs, statements)
	bySeq := map[int64]eventstore.Event{}
	for _, e := range stored {
		bySeq[e.Seq] = e
	}
	total := 0
	for i, res := range results {
		require.Len(t, res.Events, len(sent[i]))
		require.Equal(t, res.FirstSeq+int64(len(sent[i]))-1, res.LastSeq)
		for j, a := range res.Events {
			require.Equal(t, sent[i][j].ID, a.ID)
			require.Equal(t, res.FirstSeq+int64(j), a.Seq)
			require.Equal(t, sent[i][j].ID, bySeq[a.Seq].ID, "the stored event at that seq is this append's")
		}
		require.Equal(t, res.LastSeq, res.StreamVersion, "one stream: its version is the seq")
		total += len(sent[i])
	}
	require.Len(t, stored, total)
}

// statementsOf counts the transactions and the statements that stored the appends' events
// (stored holds at least those events). A statement stamps every event of a tenant it
// writes with one recorded_at (append_events and append_events_group read the clock once;
// statements of one transaction read it at different microseconds), so appends of one
// tenant whose events share a transaction id and a recorded_at went in one statement.
// (Whether appends to one stream were merged into one call is mergeCalls' own test.)
func statementsOf(t *testing.T, stored []eventstore.Event, results []eventstore.AppendResult) (txs, statements int) {
	t.Helper()
	type stamp struct {
		tx uint64
		at time.Time
	}
	byID := map[uuid.UUID]stamp{}
	for _, e := range stored {
		byID[e.ID] = stamp{e.TxID, e.RecordedAt}
	}
	txSet, stmtSet := map[uint64]bool{}, map[stamp]bool{}
	for i, res := range results {
		require.NotEmpty(t, res.Events, "append %d", i)
		first, ok := byID[res.Events[0].ID]
		require.True(t, ok, "append %d's events are stored", i)
		for _, a := range res.Events {
			require.Equal(t, first, byID[a.ID], "an append's events share one statement")
		}
		txSet[first.tx], stmtSet[first] = true, true
	}
	return len(txSet), len(stmtSet)
}

func TestRetireAfter_ClosesAConnectionAfterItsUses(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(testDB.AppURL)
	require.NoError(t, err)
	cfg.MaxConns = 1
	cfg.AfterRelease = eventstore.RetireAfter(3)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	defer pool.Close()
	pids := map[int]int{}
	for i := 0; i < 9; i++ {
		var pid int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid))
		pids[pid]++
	}
	require.Len(t, pids, 3, "three connections, each used three times: %v", pids)
	for _, n := range pids {
		require.Equal(t, 3, n)
	}
}

// Large appends bypass group commit: each is its own transaction, so it prepares its events
// while another holds the tenant lock. Concurrent 500-event appends never share one.
func TestGroupCommit_LargeAppendsGoStraightToTheDatabase(t *testing.T) {
	t.Parallel()
	s := withGroupCommit(t, appStore(t, 8).Pool(), 2)
	g := s.GroupCommitter() // one committer: anything it took would queue into groups
	var wg sync.WaitGroup
	errs := make([]error, 8)
	tenants := make([]uuid.UUID, len(errs))
	for i := range tenants {
		tenants[i] = newTenant(t)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = s.Append(context.Background(), tenants[i], "s", eventstore.Any, evs("thing.happened", 500)...)
		}(i)
	}
	wg.Wait()
	for i, tenant := range tenants {
		require.NoError(t, errs[i])
		events, err := s.ReadTenant(context.Background(), tenant, 0, 0)
		require.NoError(t, err)
		require.Len(t, events, 500)
	}
	require.Zero(t, groupedOf(g), "a large append shared a transaction")
	require.Zero(t, replayed(g))
}
