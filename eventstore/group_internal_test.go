package eventstore

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// Merging Any appends to one stream makes one statement of them, and leaves each caller's
// own arguments as they were: a failed group replays them one by one.
func TestMergeCalls_MergesAnyAppendsAndLeavesCallersAlone(t *testing.T) {
	tenant, other := uuid.New(), uuid.New()
	req := func(tenant uuid.UUID, stream string, expected ExpectedVersion, n int) *appendReq {
		events := make([]NewEvent, n)
		for i := range events {
			events[i] = NewEvent{Type: "thing.happened", SchemaVersion: 1, Data: []byte(`{}`)}
		}
		args, _, err := appendArgs(tenant, stream, expected, events)
		require.NoError(t, err)
		// Spare capacity, so a merge that appends writes into the caller's backing arrays.
		args[3] = append(make([]uuid.UUID, 0, n+8), args[3].([]uuid.UUID)...)
		args[6] = append(make([]string, 0, n+8), args[6].([]string)...)
		return &appendReq{tenant: tenant, args: args, n: n}
	}
	group := []*appendReq{
		req(tenant, "usage", Any, 2),
		req(tenant, "usage", Any, 1),
		req(tenant, "usage", Exact(4), 1), // checks its own expectation: alone
		req(other, "usage", Any, 1),       // another tenant: alone
		req(tenant, "tenant", Any, 1),     // another stream: alone
		req(tenant, "usage", Any, 3),
	}
	calls := mergeCalls(group)
	require.Len(t, calls, 4)
	require.Equal(t, []int{0, 1, 5}, calls[0].members)
	require.Equal(t, 6, calls[0].n)
	require.Len(t, calls[0].args[3].([]uuid.UUID), 6)
	for _, r := range group {
		require.Len(t, r.args[3].([]uuid.UUID), r.n, "the caller's arguments are untouched")
		require.Len(t, r.args[6].([]string), r.n)
	}
	// Each caller still sees exactly its own events (a replay uses them).
	for _, i := range []int{0, 1, 5} {
		for _, d := range group[i].args[6].([]string) {
			require.Equal(t, "{}", d)
		}
	}
	ids := calls[0].args[3].([]uuid.UUID)
	require.Equal(t, group[0].args[3].([]uuid.UUID), ids[:2])
	require.Equal(t, group[1].args[3].([]uuid.UUID), ids[2:3])
	require.Equal(t, group[5].args[3].([]uuid.UUID), ids[3:])
}
