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
		p, _, err := newAppendParams(tenant, stream, expected, events)
		require.NoError(t, err)
		// Spare capacity, so a merge that appends writes into the caller's backing arrays.
		p.IDs = append(make([]uuid.UUID, 0, n+8), p.IDs...)
		p.Data = append(make([]string, 0, n+8), p.Data...)
		return &appendReq{params: p}
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
	require.Len(t, calls[0].params.IDs, 6)
	for _, r := range group {
		require.Len(t, r.params.IDs, r.n(), "the caller's arguments are untouched")
		require.Len(t, r.params.Data, r.n())
	}
	// Each caller still sees exactly its own events (a replay uses them).
	for _, i := range []int{0, 1, 5} {
		for _, d := range group[i].params.Data {
			require.Equal(t, "{}", d)
		}
	}
	ids := calls[0].params.IDs
	require.Equal(t, group[0].params.IDs, ids[:2])
	require.Equal(t, group[1].params.IDs, ids[2:3])
	require.Equal(t, group[5].params.IDs, ids[3:])
}

// A merged statement names each claimed key's event by its index in the statement: a later
// member's keys are shifted by the events merged before it.
func TestMergeCalls_ShiftsEachMembersKeysToItsEvents(t *testing.T) {
	tenant := uuid.New()
	k1, k2, k3 := uuid.New(), uuid.New(), uuid.New()
	req := func(events ...NewEvent) *appendReq {
		p, _, err := newAppendParams(tenant, "usage", Any, events)
		require.NoError(t, err)
		return &appendReq{params: p}
	}
	e := func(keys ...uuid.UUID) NewEvent {
		return NewEvent{Type: "usage.recorded", SchemaVersion: 1, Data: []byte(`{}`), Keys: keys}
	}
	calls := mergeCalls([]*appendReq{req(e(), e(k1)), req(e(k2, k3))})
	require.Len(t, calls, 1)
	require.Equal(t, []uuid.UUID{k1, k2, k3}, calls[0].params.Keys)
	require.Equal(t, []int32{2, 3, 3}, calls[0].params.KeyEvents)
}
