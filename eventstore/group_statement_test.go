package eventstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// A group's appends run as one statement over arrays of calls: each append, whatever its
// tenant, still gets exactly its own events back, and its keys are claimed by its own
// events.
func TestGroupCommit_EveryAppendOfAManyTenantGroupGetsItsOwnEventsAndKeys(t *testing.T) {
	t.Parallel()
	s := withGroupCommit(t, pgtest.Pool(t, testDB.AppURL, 8), 2) // one committer: concurrent appends must share groups
	g := s.GroupCommitter()
	ctx := context.Background()
	for round := 0; round < 3 || groupedOf(g) == 0; round++ {
		require.Less(t, round, 50, "no group ever committed whole")
		const writers = 24
		tenants := make([]uuid.UUID, writers)
		sent := make([][]eventstore.NewEvent, writers)
		results := make([]eventstore.AppendResult, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range tenants {
			tenants[i] = newTenant(t)
			sent[i] = evs("usage.recorded", 1+i%3)
			for j := range sent[i] {
				sent[i][j].ID = uuid.Must(uuid.NewV7())
				sent[i][j].Keys = []uuid.UUID{uuid.Must(uuid.NewV7())}
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				results[i], errs[i] = s.Append(ctx, tenants[i], "usage", eventstore.NoStream, sent[i]...)
			}(i)
		}
		close(start)
		wg.Wait()
		for i, tenant := range tenants {
			require.NoError(t, errs[i])
			require.Len(t, results[i].Events, len(sent[i]))
			keys := make([]uuid.UUID, len(sent[i]))
			for j, a := range results[i].Events {
				require.Equal(t, sent[i][j].ID, a.ID)
				require.Equal(t, int64(j+1), a.Seq, "a new tenant's events start at seq 1")
				keys[j] = sent[i][j].Keys[0]
			}
			require.Equal(t, int64(len(sent[i])), results[i].StreamVersion)
			claimed, err := s.ClaimedKeys(ctx, tenant, keys)
			require.NoError(t, err)
			for j, k := range keys {
				require.Equal(t, int64(j+1), claimed[k], "key %d of tenant %d is claimed by its own event", j, i)
			}
		}
	}
}
