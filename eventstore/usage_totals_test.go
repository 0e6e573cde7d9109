package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// usageMix is a random usage event: one record (usage.recorded) or a small batch
// (usage.batch_recorded) of counters with decimal quantities and gauge readings, occurred
// up to 35 days ago (so some fall in the previous month), with its usage deltas attached
// as the use case attaches them.
func usageMix(t testing.TB, rng *rand.Rand, now time.Time) eventstore.NewEvent {
	metrics := []string{"api_calls", "storage_gb", "seats"}
	n := 1
	if rng.IntN(2) == 0 {
		n = 2 + rng.IntN(6)
	}
	recs := make([]usage.Recorded, n)
	for i := range recs {
		m, err := usage.ParseMetric(metrics[rng.IntN(len(metrics))])
		require.NoError(t, err)
		q, err := usage.ParseQuantityScale(fmt.Sprintf("%d.%02d", rng.IntN(50), 1+rng.IntN(99)), 2)
		require.NoError(t, err)
		k, err := usage.ParseIdempotencyKey(uuid.NewString())
		require.NoError(t, err)
		// Nanosecond instants, and a few records sharing one (the seq and index break ties).
		at := now.Add(-time.Duration(rng.Int64N(int64(35 * 24 * time.Hour))))
		if rng.IntN(4) == 0 {
			at = now.Add(-time.Hour)
		}
		recs[i] = usage.Recorded{Metric: m, Quantity: q, OccurredAt: at.UTC(), IdempotencyKey: k}
	}
	var e domain.Event = recs[0]
	if n > 1 {
		e = usage.BatchRecorded{Records: recs}
	}
	data, err := json.Marshal(e)
	require.NoError(t, err)
	id, _ := uuid.NewV7()
	return eventstore.NewEvent{ID: id, Type: e.EventType(), SchemaVersion: 1, Data: data,
		Metadata: eventstore.Metadata{Actor: "test"}, Usage: usage.Deltas(recs)}
}

// foldTenant folds a tenant's stored usage events (as stored: the seqs the append gave
// them) into its totals of period.
func foldTenant(t testing.TB, s *eventstore.Store, tenant uuid.UUID, period time.Time) []usage.PeriodTotal {
	stored, err := s.ReadTenant(context.Background(), tenant, 0, 10000)
	require.NoError(t, err)
	var events []usage.Event
	for _, e := range stored {
		var recs []usage.Recorded
		switch e.Type {
		case usage.TypeRecorded:
			var r usage.Recorded
			require.NoError(t, json.Unmarshal(e.Data, &r))
			recs = []usage.Recorded{r}
		case usage.TypeBatchRecorded:
			var b usage.BatchRecorded
			require.NoError(t, json.Unmarshal(e.Data, &b))
			recs = b.Records
		default:
			continue
		}
		events = append(events, usage.Event{Seq: e.Seq, Records: recs})
	}
	return usage.FoldPeriod(period, events...)
}

// requireTotalsAreTheFold checks the tenant's totals of this month and the previous one,
// read with its head in one snapshot, against the fold of its events up to that head.
func requireTotalsAreTheFold(t *testing.T, s *eventstore.Store, tenant uuid.UUID, now time.Time) {
	t.Helper()
	for _, period := range []time.Time{usage.Period(now), usage.Period(usage.Period(now).Add(-time.Hour))} {
		snap, err := s.UsageTotals(context.Background(), tenant, period)
		require.NoError(t, err)
		want := foldTenant(t, s, tenant, period)
		require.NotEmpty(t, want, "the mix has usage in %s", period.Format("2006-01"))
		got := make([]usage.PeriodTotal, len(snap.Totals))
		for i, u := range snap.Totals {
			m, err := usage.ParseMetric(u.Metric)
			require.NoError(t, err)
			got[i] = usage.PeriodTotal{Metric: m, Period: u.Period, LastKey: u.LastKey}
			for _, v := range []struct {
				s string
				d *usage.Decimal
			}{{u.Sum, &got[i].Sum}, {u.Max, &got[i].Max}, {u.Last, &got[i].Last}} {
				*v.d, err = usage.ParseDecimal(v.s)
				require.NoError(t, err)
			}
		}
		require.Len(t, got, len(want), "metrics of %s", period.Format("2006-01"))
		for i := range want {
			require.Equal(t, want[i].Metric, got[i].Metric)
			require.True(t, want[i].Period.Equal(got[i].Period), "period %s, want %s", got[i].Period, want[i].Period)
			require.True(t, want[i].Sum.Equal(got[i].Sum), "%s sum %s, want %s", want[i].Metric, got[i].Sum, want[i].Sum)
			require.True(t, want[i].Max.Equal(got[i].Max), "%s max %s, want %s", want[i].Metric, got[i].Max, want[i].Max)
			require.True(t, want[i].Last.Equal(got[i].Last), "%s last %s, want %s", want[i].Metric, got[i].Last, want[i].Last)
			require.Equal(t, want[i].LastKey, got[i].LastKey, "%s last key", want[i].Metric)
		}
	}
}

// Usage appends keep the totals equal to the fold of the events, on the direct path and
// through the group committer (several tenants' appends in one statement, a tenant's
// appends merged into one call), whatever the mix of single records and batches,
// counters and gauges, this month and the previous one.
func TestUsageTotals_AreTheFoldOfTheEventsOnEveryAppendPath(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, path := range []struct {
		name  string
		store *eventstore.Store
	}{{"Direct", eventstore.New(pgtest.Pool(t, testDB.AppURL, 8))}, {"GroupCommitter", withGroupCommit(t, pgtest.Pool(t, testDB.AppURL, 8), 8)}} {
		t.Run(path.name, func(t *testing.T) {
			tenants := []uuid.UUID{newTenant(t), newTenant(t), newTenant(t)}
			var wg sync.WaitGroup
			for w := 0; w < 12; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), uint64(now.UnixNano())))
					for i := 0; i < 25; i++ {
						tenant := tenants[rng.IntN(len(tenants))]
						_, err := path.store.Append(context.Background(), tenant, "usage", eventstore.Any, usageMix(t, rng, now))
						if err != nil {
							t.Errorf("append: %v", err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			if g := path.store.GroupCommitter(); g != nil {
				grouped, _ := g.Stats()
				require.Positive(t, grouped, "some appends shared a group")
			}
			for _, tenant := range tenants {
				requireTotalsAreTheFold(t, path.store, tenant, now)
			}
		})
	}
}

// The backfill (run by migration 00010 for usage stored before the append functions kept
// the totals) recomputes exactly what the appends kept: the totals deleted, then
// backfilled as the owner, equal the fold again.
func TestUsageTotals_BackfillRecomputesWhatTheAppendsKept(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s := eventstore.New(pgtest.Pool(t, testDB.AppURL, 4))
	tenant := newTenant(t)
	rng := rand.New(rand.NewPCG(7, uint64(now.UnixNano())))
	for i := 0; i < 60; i++ {
		_, err := s.Append(context.Background(), tenant, "usage", eventstore.Any, usageMix(t, rng, now))
		require.NoError(t, err)
	}
	before, err := s.UsageTotals(context.Background(), tenant, usage.Period(now))
	require.NoError(t, err)

	super := superPool(t)
	_, err = super.Exec(context.Background(), `DELETE FROM tenantry.usage_totals WHERE tenant_id = $1`, tenant)
	require.NoError(t, err)
	emptied, err := s.UsageTotals(context.Background(), tenant, usage.Period(now))
	require.NoError(t, err)
	require.Empty(t, emptied.Totals)

	tx, err := super.Begin(context.Background())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(context.Background(), `SET LOCAL ROLE tenantry_owner`)
	require.NoError(t, err)
	var rows int
	require.NoError(t, tx.QueryRow(context.Background(), `SELECT tenantry.usage_totals_backfill($1)`, tenant).Scan(&rows))
	require.NoError(t, tx.Commit(context.Background()))
	require.Positive(t, rows)

	after, err := s.UsageTotals(context.Background(), tenant, usage.Period(now))
	require.NoError(t, err)
	require.Equal(t, before.Totals, after.Totals)
	requireTotalsAreTheFold(t, s, tenant, now)
}

// A total beyond its delta's hard quota fails the append with a *QuotaExceeded naming the
// metric, period, usage so far and quota, and writes nothing: neither the event nor the
// totals. Exactly at the quota is accepted.
func TestUsageTotals_AppendBeyondAHardQuotaWritesNothing(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	tenant := newTenant(t)
	now := time.Now().UTC()
	metric, _ := usage.ParseMetric("api_calls")
	record := func(q string) eventstore.NewEvent {
		qty, err := usage.ParseQuantityScale(q, 2)
		require.NoError(t, err)
		k, _ := usage.ParseIdempotencyKey(uuid.NewString())
		r := usage.Recorded{Metric: metric, Quantity: qty, OccurredAt: now, IdempotencyKey: k}
		data, _ := json.Marshal(r)
		e := eventstore.NewEvent{Type: usage.TypeRecorded, SchemaVersion: 1, Data: data, Usage: usage.Deltas([]usage.Recorded{r})}
		e.Usage[0].Quota = "10"
		return e
	}
	_, err := s.Append(context.Background(), tenant, "usage", eventstore.Any, record("9.5"))
	require.NoError(t, err)
	_, err = s.Append(context.Background(), tenant, "usage", eventstore.Any, record("0.51"))
	var q *eventstore.QuotaExceeded
	require.ErrorAs(t, err, &q)
	require.Equal(t, "api_calls", q.Metric)
	require.Equal(t, "9.5", q.Used)
	require.Equal(t, "10", q.Quota)
	require.True(t, usage.Period(now).Equal(q.Period), "period %s", q.Period)
	_, err = s.Append(context.Background(), tenant, "usage", eventstore.Any, record("0.5"))
	require.NoError(t, err)

	snap, err := s.UsageTotals(context.Background(), tenant, usage.Period(now))
	require.NoError(t, err)
	require.Equal(t, int64(2), snap.Head, "the refused append wrote no event")
	require.Len(t, snap.Totals, 1)
	require.Equal(t, "10", snap.Totals[0].Sum)

	// Several rows of one metric and period in one append (usage_totals_merge adds them up
	// first) are checked as their sum: refused whole beyond the quota, accepted within it.
	other := newTenant(t)
	_, err = s.Append(context.Background(), other, "usage", eventstore.Any, record("6"), record("4.01"))
	require.ErrorAs(t, err, &q)
	require.Equal(t, "0", q.Used)
	_, err = s.Append(context.Background(), other, "usage", eventstore.Any, record("6"), record("4"))
	require.NoError(t, err)
	snap, err = s.UsageTotals(context.Background(), other, usage.Period(now))
	require.NoError(t, err)
	require.Equal(t, int64(2), snap.Head, "the refused append wrote no event")
	require.Equal(t, "10", snap.Totals[0].Sum)
}

// The totals' SQL orders readings by tenantry.usage_last_key, the read models by
// UsageLastKey: the same 20 bytes, negative numbers and extremes included, so that both
// agree on which reading is the last.
func TestUsageLastKey_IsTheSQLKey(t *testing.T) {
	pool := superPool(t)
	for _, k := range []struct {
		at  time.Time
		seq int64
		idx int32
	}{
		{time.Unix(0, 0), 0, 0},
		{time.Date(2026, 12, 7, 3, 0, 0, 123456789, time.UTC), 42, 7},
		{time.Unix(0, -1), 1, -1},
		{time.Unix(0, math.MaxInt64), math.MaxInt64, math.MaxInt32},
		{time.Unix(0, math.MinInt64), math.MinInt64, math.MinInt32},
	} {
		var got []byte
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT tenantry.usage_last_key($1, $2, $3)`,
			k.at.UnixNano(), k.seq, k.idx).Scan(&got))
		require.Equal(t, eventstore.UsageLastKey(k.at, k.seq, k.idx), got, "%v %d %d", k.at, k.seq, k.idx)
	}
}
