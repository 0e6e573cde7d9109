package eventstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// A group that fails anywhere is rolled back whole and replayed one append at a time: the
// bad append gets its own error and every other append lands exactly once.
func TestGroupCommit_OneBadAppendDoesNotSinkItsGroup(t *testing.T) {
	t.Parallel()
	s := eventstore.New(appStore(t, 8).Pool()) // a store of its own, so the committer is ours
	g := withGroupCommit(t, s, 2)              // one committer: concurrent appends must share groups
	stale := newTenant(t)
	_, err := s.Append(context.Background(), stale, "s", eventstore.NoStream, ev("thing.happened", 0))
	require.NoError(t, err)

	// Until the stale append has sunk a group at least once (it may land alone by chance).
	for round := 0; round < 5 || replayed(g) == 0; round++ {
		require.Less(t, round, 50, "no group ever carried the stale append")
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

func replayed(g *eventstore.GroupCommitter) int64 {
	_, r := g.Stats()
	return r
}
