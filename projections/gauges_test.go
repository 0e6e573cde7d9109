package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// reading is a usage record of metric at, with quantity q (decimal text of scale ≤ 6).
func reading(t testing.TB, metric, q string, at time.Time) usage.Recorded {
	t.Helper()
	m, err := usage.ParseMetric(metric)
	require.NoError(t, err)
	qty, err := usage.ParseQuantityScale(q, usage.MaxScale)
	require.NoError(t, err)
	key, err := usage.ParseIdempotencyKey(fmt.Sprintf("g-%d", rand.Int64()))
	require.NoError(t, err)
	r, err := usage.NewRecord(m, qty, at, key, time.Now())
	require.NoError(t, err)
	return r
}

// Every window keeps the exact decimal sum, the highest reading whatever the arrival order,
// and the last reading by occurred_at (ties: the later event, then the later record of a
// batch), across projector batches; a rebuild gives the same rows.
func TestProjector_KeepsDecimalSumsMaxAndLastReadingPerWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	p := f.projector()
	id := f.createTenant(t)
	hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	at := func(min int) time.Time { return hour.Add(time.Duration(min) * time.Minute) }

	f.append(t, id, usage.StreamID, reading(t, "storage_gb", "5.5", at(30)))
	f.append(t, id, usage.StreamID, reading(t, "storage_gb", "9.25", at(10))) // earlier, arrives later: not the last
	f.projectAll(t, p, id)
	f.append(t, id, usage.StreamID, usage.BatchRecorded{Records: []usage.Recorded{
		reading(t, "storage_gb", "2", at(40)), reading(t, "storage_gb", "3.75", at(40))}}) // same instant: the later record
	f.append(t, id, usage.StreamID, reading(t, "storage_gb", "1", at(40))) // same instant, later event: last
	f.append(t, id, usage.StreamID, reading(t, "storage_gb", "7", at(5)))  // late and early: changes neither
	f.projectAll(t, p, id)

	check := func(daily bool) {
		t.Helper()
		require.NoError(t, f.store.InTenant(context.Background(), id, true, func(tx *eventstore.Tx) error {
			points, err := tx.UsageSeries(context.Background(), "storage_gb", hour.Add(-24*time.Hour), hour.Add(24*time.Hour), daily)
			require.NoError(t, err)
			require.Len(t, points, 1)
			pt := points[0]
			require.Equal(t, "28.5", pt.Sum, "5.5 + 9.25 + 2 + 3.75 + 1 + 7, exactly")
			require.Equal(t, "9.25", pt.Max)
			require.Equal(t, "1", pt.Last)
			require.True(t, at(40).Equal(pt.LastAt), "%v", pt.LastAt)
			w, err := usage.ParseWindow(pt.Start, pt.Sum, pt.Max, pt.Last, pt.LastAt, pt.LastSeq, pt.LastIdx)
			require.NoError(t, err)
			m, _ := usage.ParseMetric("storage_gb")
			for agg, want := range map[usage.Aggregation]string{usage.AggregationMax: "9.25", usage.AggregationLast: "1"} {
				v, ok := usage.Definition{Metric: m, Kind: usage.KindGauge, Aggregation: agg, Scale: 2}.Value([]usage.Window{w})
				require.True(t, ok)
				require.Equal(t, want, v.String(), agg.String())
			}
			return nil
		}))
	}
	check(false)
	check(true)

	before := f.snapshot(t, id)
	require.NoError(t, p.Rebuild(context.Background(), id, nil))
	require.Equal(t, before, f.snapshot(t, id), "a rebuild gives the same windows")
	check(false)
}

// A whole-unit counter's windows are written as before: sums of integers (and its readings
// kept alongside, unused).
func TestProjector_WholeQuantitiesSumAsBefore(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	p := f.projector()
	id := f.createTenant(t)
	for i := 0; i < 3; i++ {
		f.append(t, id, usage.StreamID, usageEvent(t, i))
	}
	f.projectAll(t, p, id)
	require.NoError(t, f.store.InTenant(context.Background(), id, true, func(tx *eventstore.Tx) error {
		points, err := tx.UsageSeries(context.Background(), "api_calls", time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour), true)
		require.NoError(t, err)
		require.Len(t, points, 1)
		require.Equal(t, int64(3), points[0].Quantity)
		require.Equal(t, "3", points[0].Sum)
		require.Equal(t, "1", points[0].Max)
		return nil
	}))
}
