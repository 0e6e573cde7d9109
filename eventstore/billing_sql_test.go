package eventstore_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// usageTenant provisions tenant with hourly (and matching daily) usage recorded and the
// totals reported to Stripe, both keyed by metric and hour.
func usageTenant(t *testing.T, worker *eventstore.Store, tenant uuid.UUID, recorded, reported map[string]map[time.Time]int64) {
	t.Helper()
	provisioned(t, worker, tenant, func(tx *eventstore.ProjectionTx) error {
		var hourly, daily eventstore.UsageTotals
		type day struct {
			metric string
			start  time.Time
		}
		days := map[day]int64{}
		for metric, hours := range recorded {
			for h, q := range hours {
				hourly.Metrics, hourly.Starts, hourly.Quantities = append(hourly.Metrics, metric), append(hourly.Starts, h), append(hourly.Quantities, q)
				days[day{metric, h.Truncate(24 * time.Hour)}] += q
			}
		}
		for d, q := range days {
			daily.Metrics, daily.Starts, daily.Quantities = append(daily.Metrics, d.metric), append(daily.Starts, d.start), append(daily.Quantities, q)
		}
		tx.AddUsage(hourly, daily)
		for metric, hours := range reported {
			for h, q := range hours {
				if err := tx.SetUsageReported(ctx(t), metric, h, q, 1); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func TestReconcile_ComparesClosedWindowsByMetricAndMonth_AndCountsOpenOnesApart(t *testing.T) {
	t.Parallel()
	worker, app := workerStore(t, 1), appStore(t, 1)
	a, b := newTenant(t), newTenant(t)
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return mar.Add(time.Duration(n) * time.Hour) }
	usageTenant(t, worker, a,
		map[string]map[time.Time]int64{"api_calls": {h(-1): 2, h(0): 10, h(1): 5, h(2): 7}},
		map[string]map[time.Time]int64{"api_calls": {h(0): 10, h(1): 3}, "storage": {h(0): 4}})
	// B's usage in the same windows is never A's.
	usageTenant(t, worker, b,
		map[string]map[time.Time]int64{"api_calls": {h(0): 1000, h(1): 1000}, "seats": {h(0): 9}},
		map[string]map[time.Time]int64{"api_calls": {h(0): 999}})

	var lines []eventstore.ReconLine
	cutoff := h(2) // windows h(-1) .. h(1) have closed; h(2) is still open
	require.NoError(t, app.InTenant(ctx(t), a, true, func(tx *eventstore.Tx) error {
		var err error
		lines, err = tx.Reconcile(ctx(t), feb, mar.AddDate(0, 1, 0), cutoff)
		return err
	}))
	require.Equal(t, []eventstore.ReconLine{
		{Metric: "api_calls", Period: feb, Recorded: 2, Reported: 0, Difference: 2, UnreportedWindows: 1},
		{Metric: "api_calls", Period: mar, Recorded: 15, Reported: 13, Difference: 2, UnreportedWindows: 1, InProgress: 7},
		{Metric: "storage", Period: mar, Recorded: 0, Reported: 4, Difference: -4, UnreportedWindows: 1},
	}, lines)

	require.NoError(t, app.InTenant(ctx(t), a, true, func(tx *eventstore.Tx) error {
		var err error
		lines, err = tx.Reconcile(ctx(t), mar, mar.AddDate(0, 1, 0), h(3))
		return err
	}))
	require.Equal(t, []eventstore.ReconLine{
		{Metric: "api_calls", Period: mar, Recorded: 22, Reported: 13, Difference: 9, UnreportedWindows: 2},
		{Metric: "storage", Period: mar, Recorded: 0, Reported: 4, Difference: -4, UnreportedWindows: 1},
	}, lines, "from one window later on, h(2) is closed and unreported; February is outside [from, to)")
}
