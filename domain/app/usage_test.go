package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// usageFixture is a fresh database on the API's role with the usage use case over it.
func usageFixture(t *testing.T) (*eventstore.Store, eventstore.DomainStore, *app.RecordUsage) {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(pgtest.Pool(t, db.AppURL, 6))
	events := eventstore.DomainStore{Store: store, Registry: catalogRegistry(t)}
	u := app.NewRecordUsage(app.RecordUsageConfig{Store: events, Keys: store})
	return store, events, u
}

// sumRecorded adds up the quantities of every record stored in the tenant's usage stream,
// and counts its events.
func sumRecorded(t *testing.T, events eventstore.DomainStore, tenantID uuid.UUID) (total int64, stored int) {
	t.Helper()
	page, err := events.ReadStream(context.Background(), tenantID, usage.StreamID, 1, 10_000)
	require.NoError(t, err)
	for _, r := range page {
		switch e := r.Event.(type) {
		case *usage.Recorded:
			total += e.Quantity.Int64()
		case *usage.BatchRecorded:
			for _, rec := range e.Records {
				total += rec.Quantity.Int64()
			}
		default:
			t.Fatalf("unexpected event %T in the usage stream", r.Event)
		}
	}
	return total, len(page)
}

func TestRecordUsage_CountsEachKeyOnceAcrossRequestsAndWithinOne(t *testing.T) {
	_, events, uc := usageFixture(t)
	ctx := context.Background()
	tenantID := uuid.New()
	meta := domain.Metadata{Actor: "test"}
	at := time.Now().Add(-time.Minute)

	first, err := uc.Record(ctx, app.UsageInput{Tenant: tenantID, Metadata: meta, Records: []usage.Recorded{usageRecord(t, "a", 1, at)}})
	require.NoError(t, err)
	require.Equal(t, app.UsageRecorded{Accepted: 1, Duplicates: 0, Seq: first.Seq}, first)
	require.Positive(t, first.Seq)

	// "a" was sent before, "b" twice in this request: two of four are new.
	batch := []usage.Recorded{usageRecord(t, "a", 1, at), usageRecord(t, "b", 10, at), usageRecord(t, "b", 10, at), usageRecord(t, "c", 100, at)}
	got, err := uc.Record(ctx, app.UsageInput{Tenant: tenantID, Metadata: meta, Records: batch})
	require.NoError(t, err)
	require.Equal(t, 2, got.Accepted)
	require.Equal(t, 2, got.Duplicates)
	require.Greater(t, got.Seq, first.Seq)

	again, err := uc.Record(ctx, app.UsageInput{Tenant: tenantID, Metadata: meta, Records: batch})
	require.NoError(t, err)
	require.Equal(t, app.UsageRecorded{Accepted: 0, Duplicates: 4, Seq: got.Seq}, again,
		"a replayed request records nothing, and answers the seq that holds its records")
	one, err := uc.Record(ctx, app.UsageInput{Tenant: tenantID, Metadata: meta, Records: []usage.Recorded{usageRecord(t, "a", 1, at)}})
	require.NoError(t, err)
	require.Equal(t, app.UsageRecorded{Accepted: 0, Duplicates: 1, Seq: first.Seq}, one, "a duplicate answers the seq that recorded it first")
	total, _ := sumRecorded(t, events, tenantID)
	require.Equal(t, int64(111), total)

	_, err = uc.Record(ctx, app.UsageInput{Tenant: tenantID, Metadata: meta})
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), "no records is invalid: %v", err)
}

// Many concurrent single records of one tenant and actor, each key sent twice: every key
// counts exactly once, and the appends carried several records at a time.
func TestRecordUsage_CoalescesConcurrentSingleRecordsWithoutLosingOrDoublingAny(t *testing.T) {
	_, events, uc := usageFixture(t)
	tenantID := uuid.New()
	const keys, senders = 200, 16
	at := time.Now().Add(-time.Minute)
	var mu sync.Mutex
	accepted, duplicates := 0, 0
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < 2*keys; i += senders {
				k, err := usage.ParseIdempotencyKey(fmt.Sprintf("k-%d", i%keys))
				if err != nil {
					errs <- err
					return
				}
				r := usageRecord(t, "x", 1, at)
				r.IdempotencyKey = k
				res, err := uc.Record(context.Background(), app.UsageInput{Tenant: tenantID,
					Metadata: domain.Metadata{Actor: "key-1", RequestID: fmt.Sprintf("req-%d", i)}, Records: []usage.Recorded{r}})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				accepted += res.Accepted
				duplicates += res.Duplicates
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, keys, accepted, "each key accepted once")
	require.Equal(t, keys, duplicates, "each key's second send is a duplicate")
	total, stored := sumRecorded(t, events, tenantID)
	require.Equal(t, int64(keys), total, "the stream holds each record once")
	require.Less(t, stored, keys, "concurrent single records were coalesced into fewer events")
	require.Zero(t, uc.Waiting(tenantID), "no request is left waiting")
}

// A usage event appended through the domain store without its deltas (a path other than
// RecordUsage) still reaches the usage totals: the store takes them from the event; the
// use case's own deltas are not added twice.
func TestDomainStore_KeepsTheUsageTotalsOfUsageEventsAppendedWithoutDeltas(t *testing.T) {
	store, events, uc := usageFixture(t)
	ctx := context.Background()
	tenantID := uuid.New()
	at := time.Now().UTC()
	_, err := events.Append(ctx, tenantID, usage.StreamID, domain.Any, byTest, domain.Pending{Event: usageRecord(t, "a", 2, at)})
	require.NoError(t, err)
	batch := usage.BatchRecorded{Records: []usage.Recorded{usageRecord(t, "b", 3, at), usageRecord(t, "c", 5, at.Add(-40*24*time.Hour))}}
	_, err = events.Append(ctx, tenantID, usage.StreamID, domain.Any, byTest, domain.Pending{Event: batch})
	require.NoError(t, err)
	_, err = uc.Record(ctx, app.UsageInput{Tenant: tenantID, Metadata: byTest, Records: []usage.Recorded{usageRecord(t, "d", 7, at)}})
	require.NoError(t, err)

	sums, err := store.UsageSums(ctx, tenantID, usage.Period(at))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"api_calls": "12"}, sums, "2 + 3 + 7 this month")
	sums, err = store.UsageSums(ctx, tenantID, usage.Period(at.Add(-40*24*time.Hour)))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"api_calls": "5"}, sums, "the record dated 40 days ago")
	total, _ := sumRecorded(t, events, tenantID)
	require.Equal(t, int64(17), total)
}
