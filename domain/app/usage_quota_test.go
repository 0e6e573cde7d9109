package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// quotaDoc gives pro a hard quota of 100 api_calls a month.
const quotaDoc = `{"metrics": [{"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0}],
"plans": [{"key": "pro", "name": "Pro", "intervals": {"monthly": {}}, "limits": {"seats": 25, "requests_per_second": 50, "burst": 100},
  "metrics": {"api_calls": {"included": 100, "beyond": "hard"}}}]}`

// racingStore is the event store with another request that, before each of the next rounds
// usage appends, records just enough of the quota that the append no longer fits (by one
// call): the worst contention at a hard quota's boundary, every round.
type racingStore struct {
	app.EventStore
	t       *testing.T
	other   *app.RecordUsage
	version int
	rounds  int
	used    int64 // of the quota, by the other request
	appends int
}

func (s *racingStore) Append(ctx context.Context, tenant uuid.UUID, stream string, expected domain.ExpectedVersion, meta domain.Metadata, events ...domain.Pending) (domain.Committed, error) {
	if stream == usage.StreamID && meta.Actor == "test" {
		s.appends++
		if s.rounds > 0 {
			s.rounds--
			n := int64(1)
			if b, ok := events[0].Event.(usage.BatchRecorded); ok {
				n = int64(len(b.Records))
			}
			take := 100 - s.used - (n - 1) // leaves room for n-1 of the append's n calls
			s.used += take
			r := usageRecord(s.t, fmt.Sprintf("other-%d", s.rounds), take, time.Now())
			_, err := s.other.Record(ctx, app.UsageInput{Tenant: tenant, Metadata: domain.Metadata{Actor: "other"},
				Records: []usage.Recorded{r}, Plan: domain.PlanPro, PlanVersion: s.version})
			require.NoError(s.t, err)
		}
	}
	return s.EventStore.Append(ctx, tenant, stream, expected, meta, events...)
}

// Records gathered from concurrent requests (coalesced) that meet a hard quota's boundary
// under contention are refitted for as long as the contention lasts: each refit refuses
// only records that no longer fit, so a record with room left is never refused however
// many appends it takes (before, the eighth refusal refused them all).
func TestRecordUsage_CoalescedRecordsAtAHardQuotaAreRefittedAsLongAsContentionLasts(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := eventstore.New(pgtest.Pool(t, db.AppURL, 6))
	events := eventstore.DomainStore{Store: store, Registry: catalogRegistry(t)}
	cat := app.NewPlanCatalog(events, plans.Default(domain.DefaultPlans()))
	defs, err := plans.ParseDocument([]byte(quotaDoc))
	require.NoError(t, err)
	apply(t, cat, defs, false)
	pro, ok := cat.Current().Current(domain.PlanPro)
	require.True(t, ok)
	version := pro.Version
	tenant := uuid.New()
	cfg := app.RecordUsageConfig{Store: events, Keys: store, Sums: store, Catalog: cat, NoCoalescing: true}
	racing := &racingStore{EventStore: events, t: t, other: app.NewRecordUsage(cfg), version: version, rounds: 10}
	cfg.Store = racing
	u := app.NewRecordUsage(cfg)

	records := make([]usage.Recorded, 12)
	for i := range records {
		records[i] = usageRecord(t, fmt.Sprintf("mine-%d", i), 1, time.Now())
	}
	accepted, refused, err := u.StoreCoalesced(context.Background(), tenant, domain.PlanPro, version, records)
	require.NoError(t, err)
	require.Equal(t, 11, racing.appends, "ten refused appends, each refit leaving out one record, then one that fits")
	for i := range records {
		if i < 2 {
			require.True(t, accepted[i], "record %d fits", i)
			require.NoError(t, refused[i])
			continue
		}
		require.False(t, accepted[i])
		var q *domain.QuotaExceeded
		require.ErrorAs(t, refused[i], &q, "record %d", i)
	}
	sums, err := store.UsageSums(context.Background(), tenant, usage.Period(time.Now()))
	require.NoError(t, err)
	require.Equal(t, "100", sums["api_calls"], "the quota is used exactly: 98 by the other request, 2 of the 12")
}
