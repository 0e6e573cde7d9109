package usage_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
)

func TestDefinition_ValueAggregatesWindowsByKind(t *testing.T) {
	m := mustMetric(t, "storage_gb")
	h := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	win := func(start time.Time, sum, maxR, last string, lastAt time.Time, seq int64, idx int32) usage.Window {
		w, err := usage.ParseWindow(start, sum, maxR, last, lastAt, seq, idx)
		require.NoError(t, err)
		return w
	}
	windows := []usage.Window{
		win(h.Add(2*time.Hour), "4", "3", "1", h.Add(2*time.Hour+5*time.Minute), 9, 0),
		win(h, "10.5", "9.25", "1.25", h.Add(50*time.Minute), 3, 0),
		win(h.Add(time.Hour), "8", "9.25", "2", h.Add(2*time.Hour+5*time.Minute), 9, 1), // a later record of the same event
		win(h.Add(3*time.Hour), "5", "", "", time.Time{}, 0, 0),                         // stored before readings were kept
	}
	for _, tc := range []struct {
		def  usage.Definition
		want string
		at   time.Time
	}{
		{usage.DefaultDefinition(m), "27.5", h.Add(3 * time.Hour)},
		{usage.Definition{Metric: m, Kind: usage.KindGauge, Aggregation: usage.AggregationMax, Scale: 2}, "9.25", h},
		{usage.Definition{Metric: m, Kind: usage.KindGauge, Aggregation: usage.AggregationLast, Scale: 2}, "2", h.Add(2*time.Hour + 5*time.Minute)},
	} {
		v, at, ok := tc.def.ValueAt(windows)
		require.True(t, ok)
		require.Equal(t, tc.want, v.String(), tc.def.Aggregation.String())
		require.Equal(t, tc.at, at, tc.def.Aggregation.String())
		// Any order of the windows gives the same value.
		rev := []usage.Window{windows[3], windows[2], windows[1], windows[0]}
		again, _, _ := tc.def.ValueAt(rev)
		require.Equal(t, v, again)
	}
	_, ok := usage.Definition{Metric: m, Kind: usage.KindGauge, Aggregation: usage.AggregationMax}.Value(windows[3:])
	require.False(t, ok, "no readings: no gauge value")
	_, ok = usage.DefaultDefinition(m).Value(nil)
	require.False(t, ok)
	require.Equal(t, usage.DefaultDefinition(m), usage.DefinitionOf(nil, m))
	require.Equal(t, usage.DefaultDefinition(m), usage.DefinitionOf(usage.StaticDefinitions{}, m))
}
