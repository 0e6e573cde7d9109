package eventstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func TestFeedPage_ReadsTheTenantsEventsAfterASeqWithItsHead(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	ctx := context.Background()
	tenant, other := uuid.New(), uuid.New()
	_, err := s.Append(ctx, tenant, "s-1", eventstore.Any, evs("thing.happened", 5)...)
	require.NoError(t, err)
	_, err = s.Append(ctx, other, "s-1", eventstore.Any, evs("thing.happened", 3)...)
	require.NoError(t, err)
	page, head, err := s.FeedPage(ctx, tenant, 2, 2)
	require.NoError(t, err)
	require.Equal(t, int64(5), head)
	require.Len(t, page, 2)
	require.Equal(t, []int64{3, 4}, []int64{page[0].Seq, page[1].Seq})
	for _, e := range page {
		require.Equal(t, tenant, e.TenantID, "never another tenant's")
	}
}

func TestEventWatch_IsWokenByAnAppendOfThisProcess(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	ctx := context.Background()
	tenant := uuid.New()
	w := s.WatchTenant(tenant, 0)
	defer w.Close()
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = s.Append(ctx, tenant, "s-1", eventstore.Any, ev("thing.happened", 1))
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	require.True(t, w.Wait(wctx))
	require.Less(t, time.Since(start), 5*time.Second)
}

// Another process's append reaches this one only through its NOTIFY: the watch is woken by
// the notification, then one read of the watched tenants' heads. Not parallel: other
// tests' notifications would wake it early.
func TestEventWatch_IsWokenByANotificationOfAnotherProcessesAppend(t *testing.T) {
	s := appStore(t, 4)
	ctx := context.Background()
	tenant, w, quiet := watchTwo(t, s)
	_, err := s.AppendUnannounced(ctx, tenant, "s-1", ev("thing.happened", 1))
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	woke := make(chan bool, 1)
	go func() { woke <- w.Wait(wctx) }()
	select {
	case <-woke:
		t.Fatal("woken before any notification")
	case <-time.After(300 * time.Millisecond): // no polling: nothing wakes it yet
	}
	_, err = s.Pool().Exec(ctx, "SELECT pg_notify($1, 'another-process')", eventstore.NotifyChannel)
	require.NoError(t, err)
	require.True(t, <-woke)
	// A tenant without new events is not woken by the notification.
	qctx, qcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer qcancel()
	require.False(t, quiet.Wait(qctx))
}

// Another process's notification that names the heads it moved moves the watches of those
// tenants without reading anything (the head it names is not even recorded here), and
// leaves other watches asleep. Not parallel, as above.
func TestEventWatch_LearnsHeadsFromAnotherProcessesNotificationWithoutReading(t *testing.T) {
	s := appStore(t, 4)
	ctx := context.Background()
	tenant, w, quiet := watchTwo(t, s)
	_, err := s.Pool().Exec(ctx, "SELECT pg_notify($1, $2)", eventstore.NotifyChannel, "another-process "+tenant.String()+"=7")
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.True(t, w.Wait(wctx), "woken by the head in the payload: the database holds no event of the tenant")
	qctx, qcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer qcancel()
	require.False(t, quiet.Wait(qctx), "a tenant the payload does not name stays asleep")
}

// watchTwo watches a tenant that the test moves and one that stays idle, both on s's pool,
// and waits for the pool's listener to connect; the watches close when the test ends.
func watchTwo(t *testing.T, s *eventstore.Store) (tenant uuid.UUID, moved, quiet *eventstore.EventWatch) {
	tenant = uuid.New()
	moved, quiet = s.WatchTenant(tenant, 0), s.WatchTenant(uuid.New(), 0)
	t.Cleanup(func() { moved.Close(); quiet.Close() })
	time.Sleep(300 * time.Millisecond) // the listener connects
	return tenant, moved, quiet
}
