package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

// appStore is a store logged in as the runtime role whose appends go through a
// GroupCommitter, as in `serve`. TENANTRY_TEST_GROUP_COMMIT=0 tests the direct path (CI runs
// the package both ways).
func appStore(t testing.TB, maxConns int32) *eventstore.Store {
	pool := pgtest.Pool(t, testDB.AppURL, maxConns)
	if os.Getenv("TENANTRY_TEST_GROUP_COMMIT") != "0" {
		return withGroupCommit(t, pool, int(maxConns))
	}
	return eventstore.New(pool)
}

// workerStore is appStore logged in as the cross-tenant machinery's role (tenantry_worker),
// which alone may follow the global cursor (ReadAll, the relay).
func workerStore(t testing.TB, maxConns int32) *eventstore.Store {
	pool := pgtest.Pool(t, testDB.WorkerURL, maxConns)
	if os.Getenv("TENANTRY_TEST_GROUP_COMMIT") != "0" {
		return withGroupCommit(t, pool, int(maxConns))
	}
	return eventstore.New(pool)
}

// withGroupCommit is a store over pool whose appends go through its GroupCommitter (half
// as many committers as given, at least one), running until the test ends.
func withGroupCommit(t testing.TB, pool *pgxpool.Pool, committers int) *eventstore.Store {
	s, err := eventstore.NewStore(pool, eventstore.StoreConfig{GroupCommitters: max(1, committers/2)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.GroupCommitter().Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func superPool(t testing.TB) *pgxpool.Pool { return pgtest.Pool(t, testDB.SuperURL, 4) }

func newTenant(t testing.TB) uuid.UUID {
	id, err := uuid.NewV7()
	require.NoError(t, err)
	return id
}

// ev builds a proposed event with a fresh id and small JSON data.
func ev(typ string, n int) eventstore.NewEvent {
	id, _ := uuid.NewV7()
	data, _ := json.Marshal(map[string]any{"n": n, "note": fmt.Sprintf("event %d", n)})
	return eventstore.NewEvent{ID: id, Type: typ, SchemaVersion: 1, Data: data,
		Metadata: eventstore.Metadata{Actor: "test", RequestID: "req-" + id.String()[:8]}}
}

func evs(typ string, n int) []eventstore.NewEvent {
	out := make([]eventstore.NewEvent, n)
	for i := range out {
		out[i] = ev(typ, i)
	}
	return out
}

func ctx(t testing.TB) context.Context { return context.Background() }
