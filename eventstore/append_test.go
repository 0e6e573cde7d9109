package eventstore_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func TestAppend_StoresEventsInOrderWithGaplessSeq(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	tenant := newTenant(t)

	r1, err := s.Append(ctx(t), tenant, "tenant", eventstore.NoStream, evs("tenant.created", 1)...)
	require.NoError(t, err)
	require.False(t, r1.Retried)
	require.Equal(t, int64(1), r1.FirstSeq)
	require.Equal(t, int64(1), r1.StreamVersion)

	r2, err := s.Append(ctx(t), tenant, "membership", eventstore.NoStream, evs("member.joined", 3)...)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 4}, []int64{r2.FirstSeq, r2.LastSeq})
	require.Equal(t, int64(3), r2.StreamVersion)

	r3, err := s.Append(ctx(t), tenant, "tenant", eventstore.Exact(1), evs("tenant.renamed", 2)...)
	require.NoError(t, err)
	require.Equal(t, int64(6), r3.LastSeq)
	require.Equal(t, int64(3), r3.StreamVersion)

	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 6)
	for i, e := range all {
		require.Equal(t, int64(i+1), e.Seq)
		require.Equal(t, tenant, e.TenantID)
		require.NotZero(t, e.Position)
		require.NotZero(t, e.TxID)
		if i > 0 {
			require.Equal(t, all[i-1].Hash, e.PrevHash, "seq %d links to seq %d", e.Seq, e.Seq-1)
			require.False(t, e.RecordedAt.Before(all[i-1].RecordedAt), "recorded_at is monotonic per tenant")
		}
	}
	require.Equal(t, [32]byte{}, all[0].PrevHash, "the chain starts at 32 zero bytes")

	stream, err := s.ReadStream(ctx(t), tenant, "tenant", 2, 0)
	require.NoError(t, err)
	require.Len(t, stream, 2)
	require.Equal(t, []int64{2, 3}, []int64{stream[0].StreamVersion, stream[1].StreamVersion})
	require.Equal(t, "tenant.renamed", stream[0].Type)

	page, err := s.ReadTenant(ctx(t), tenant, 4, 1)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, int64(5), page[0].Seq)
}

func TestAppend_ExpectedVersionIsEnforced(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	tenant := newTenant(t)
	_, err := s.Append(ctx(t), tenant, "s", eventstore.NoStream, evs("thing.happened", 2)...)
	require.NoError(t, err)

	cases := []struct {
		name     string
		expected eventstore.ExpectedVersion
		ok       bool
	}{
		{"NoStreamOnExistingStream", eventstore.NoStream, false},
		{"StaleVersion", eventstore.Exact(1), false},
		{"FutureVersion", eventstore.Exact(3), false},
		{"ExactVersion", eventstore.Exact(2), true},
		{"AnyVersion", eventstore.Any, true},
	}
	for _, c := range cases {
		_, err := s.Append(ctx(t), tenant, "s", c.expected, ev("thing.happened", 9))
		if c.ok {
			require.NoError(t, err, c.name)
			continue
		}
		require.ErrorIs(t, err, eventstore.ErrConcurrency, c.name)
		var ce *eventstore.ConcurrencyError
		require.True(t, errors.As(err, &ce), c.name)
		require.Equal(t, int64(2), ce.Actual, c.name)
		require.Equal(t, c.expected, ce.Expected, c.name)
	}
	events, err := s.ReadStream(ctx(t), tenant, "s", 1, 0)
	require.NoError(t, err)
	require.Len(t, events, 4, "only the two accepted appends wrote")
}

func TestAppend_FiftyConcurrentWritersOnlyOneWins(t *testing.T) {
	t.Parallel()
	s := appStore(t, 20) // fewer connections than callers: they still race, and CI stays under max_connections
	tenant := newTenant(t)
	_, err := s.Append(ctx(t), tenant, "race", eventstore.NoStream, ev("thing.happened", 0))
	require.NoError(t, err)

	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			_, err := s.Append(ctx(t), tenant, "race", eventstore.Exact(1), ev("thing.happened", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, eventstore.ErrConcurrency):
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Equal(t, 49, conflicts)
	events, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, 2)
}

func TestAppend_RetryWithSameEventIDsAddsNothing(t *testing.T) {
	t.Parallel()
	s := appStore(t, 8)
	tenant := newTenant(t)
	batch := evs("usage.recorded", 3)

	first, err := s.Append(ctx(t), tenant, "usage", eventstore.Any, batch...)
	require.NoError(t, err)
	require.False(t, first.Retried)

	// A retry, even with a stale expected version, is recognised and writes nothing.
	again, err := s.Append(ctx(t), tenant, "usage", eventstore.NoStream, batch...)
	require.NoError(t, err)
	require.True(t, again.Retried)
	require.Equal(t, first.Events, again.Events)

	// Concurrent retries of one new batch: exactly one writes.
	next := evs("usage.recorded", 2)
	var wg sync.WaitGroup
	results := make([]eventstore.AppendResult, 8)
	errs := make([]error, len(results))
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = s.Append(ctx(t), tenant, "usage", eventstore.Any, next...)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "retry %d", i)
	}
	writes := 0
	for _, r := range results {
		if !r.Retried {
			writes++
		}
		require.Equal(t, results[0].Events[0].Seq, r.Events[0].Seq)
	}
	require.Equal(t, 1, writes)

	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 5)
}

func TestAppend_ReusedEventIDWithOtherContentIsRefused(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	tenant := newTenant(t)
	batch := evs("usage.recorded", 2)
	_, err := s.Append(ctx(t), tenant, "usage", eventstore.Any, batch...)
	require.NoError(t, err)

	changed := batch[0]
	changed.Data = json.RawMessage(`{"n": 42}`)
	_, err = s.Append(ctx(t), tenant, "usage", eventstore.Any, changed)
	require.ErrorIs(t, err, eventstore.ErrEventIDConflict)

	// Part retry, part new: refused whole, the new event is not written.
	_, err = s.Append(ctx(t), tenant, "usage", eventstore.Any, batch[0], ev("usage.recorded", 7))
	require.ErrorIs(t, err, eventstore.ErrEventIDConflict)

	// Same id in another stream is not a retry either.
	_, err = s.Append(ctx(t), tenant, "other", eventstore.Any, batch...)
	require.ErrorIs(t, err, eventstore.ErrEventIDConflict)

	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 2)
}

func TestAppend_RejectsMalformedInputWithoutWriting(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	tenant := newTenant(t)
	dup := ev("thing.happened", 1)
	tooMany := evs("thing.happened", eventstore.MaxEventsPerAppend+1)
	cases := []struct {
		name   string
		tenant uuid.UUID
		stream string
		events []eventstore.NewEvent
		want   error
	}{
		{"NilTenant", uuid.Nil, "s", evs("thing.happened", 1), eventstore.ErrNoTenant},
		{"EmptyStream", tenant, "", evs("thing.happened", 1), eventstore.ErrInvalidEvent},
		{"ControlCharInStream", tenant, "a\x00b", evs("thing.happened", 1), eventstore.ErrInvalidEvent},
		{"NoEvents", tenant, "s", nil, eventstore.ErrInvalidEvent},
		{"TooManyEvents", tenant, "s", tooMany, eventstore.ErrInvalidEvent},
		{"BadType", tenant, "s", []eventstore.NewEvent{{Type: "Tenant Created", SchemaVersion: 1, Data: []byte(`{}`)}}, eventstore.ErrInvalidEvent},
		{"ZeroVersion", tenant, "s", []eventstore.NewEvent{{Type: "a.b", Data: []byte(`{}`)}}, eventstore.ErrInvalidEvent},
		{"BadJSON", tenant, "s", []eventstore.NewEvent{{Type: "a.b", SchemaVersion: 1, Data: []byte(`{"a":`)}}, eventstore.ErrInvalidEvent},
		{"NULInJSON", tenant, "s", []eventstore.NewEvent{{Type: "a.b", SchemaVersion: 1, Data: []byte(`{"a":"\u0000"}`)}}, eventstore.ErrInvalidEvent},
		{"DuplicateIDs", tenant, "s", []eventstore.NewEvent{dup, dup}, eventstore.ErrInvalidEvent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Append(ctx(t), c.tenant, c.stream, eventstore.Any, c.events...)
			require.ErrorIs(t, err, c.want)
		})
	}
	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Empty(t, all)
}

func TestAppend_GeneratesUUIDv7WhenIDIsZero(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	tenant := newTenant(t)
	r, err := s.Append(ctx(t), tenant, "s", eventstore.Any, eventstore.NewEvent{Type: "a.b", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	require.Equal(t, uuid.Version(7), r.Events[0].ID.Version())
}
