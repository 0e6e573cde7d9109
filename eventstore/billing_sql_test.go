package eventstore_test

import (
	"fmt"
	"math"
	"strconv"
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
				hourly.Metrics, hourly.Starts, hourly.Quantities = append(hourly.Metrics, metric), append(hourly.Starts, h), append(hourly.Quantities, strconv.FormatInt(q, 10))
				days[day{metric, h.Truncate(24 * time.Hour)}] += q
			}
		}
		for d, q := range days {
			daily.Metrics, daily.Starts, daily.Quantities = append(daily.Metrics, d.metric), append(daily.Starts, d.start), append(daily.Quantities, strconv.FormatInt(q, 10))
		}
		tx.AddUsage(hourly, daily)
		for metric, hours := range reported {
			for h, q := range hours {
				if err := tx.SetUsageReported(ctx(t), metric, h, strconv.FormatInt(q, 10), 1); err != nil {
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
	require.Equal(t, []string{
		"api_calls 2026-02 recorded 2 reported 0 difference 2 unreported 1 in progress 0",
		"api_calls 2026-03 recorded 15 reported 13 difference 2 unreported 1 in progress 7",
		"storage 2026-03 recorded 0 reported 4 difference -4 unreported 1 in progress 0",
	}, reconLines(lines))

	require.NoError(t, app.InTenant(ctx(t), a, true, func(tx *eventstore.Tx) error {
		var err error
		lines, err = tx.Reconcile(ctx(t), mar, mar.AddDate(0, 1, 0), h(3))
		return err
	}))
	require.Equal(t, []string{
		"api_calls 2026-03 recorded 22 reported 13 difference 9 unreported 2 in progress 0",
		"storage 2026-03 recorded 0 reported 4 difference -4 unreported 1 in progress 0",
	}, reconLines(lines), "from one window later on, h(2) is closed and unreported; February is outside [from, to)")
}

// reconLines writes lines as comparable text.
func reconLines(lines []eventstore.ReconLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = fmt.Sprintf("%s %s recorded %s reported %s difference %s unreported %d in progress %s", l.Metric, l.Period.Format("2006-01"),
			l.Recorded, l.Reported, l.Difference, l.UnreportedWindows, l.InProgress)
	}
	return out
}

// A window's recorded total is a numeric of any size, and so is what Stripe was told of it
// (reported in several meter events): both are compared exactly. The sums saturated at
// 2^63-1, so a window of 2^64 recorded and reported in full showed a difference of 0 only
// by accident of the cap, and one reported short by 2^63 showed none at all.
func TestReconcile_ComparesTotalsBeyondAnInt64Exactly(t *testing.T) {
	t.Parallel()
	worker, app := workerStore(t, 1), appStore(t, 1)
	a := newTenant(t)
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return mar.Add(time.Duration(n) * time.Hour) }
	one := func(metric string, at time.Time, q int64) (hourly, daily eventstore.UsageTotals) {
		return eventstore.UsageTotals{Metrics: []string{metric}, Starts: []time.Time{at}, Quantities: []string{strconv.FormatInt(q, 10)}},
			eventstore.UsageTotals{Metrics: []string{metric}, Starts: []time.Time{at.Truncate(24 * time.Hour)}, Quantities: []string{strconv.FormatInt(q, 10)}}
	}
	// api_calls at h(0): 3 × (2^63-1), reported as 2^63 short; storage at h(1): 2^64 - 2,
	// reported in full; api_calls at h(5) (still open): 2 × (2^63-1).
	usageTenant(t, worker, a, map[string]map[time.Time]int64{"api_calls": {h(0): math.MaxInt64, h(5): math.MaxInt64}, "storage": {h(1): math.MaxInt64}}, nil)
	for _, add := range []struct {
		metric string
		at     time.Time
	}{{"api_calls", h(0)}, {"api_calls", h(0)}, {"storage", h(1)}, {"api_calls", h(5)}} {
		require.NoError(t, worker.InProjection(ctx(t), a, func(tx *eventstore.ProjectionTx) error {
			if _, _, _, err := tx.Lock(ctx(t), eventstore.ProjectionUsage, ""); err != nil {
				return err
			}
			tx.AddUsage(one(add.metric, add.at, math.MaxInt64))
			if add.metric == "storage" {
				if err := tx.SetUsageReported(ctx(t), "storage", add.at, "18446744073709551614", 1); err != nil {
					return err
				}
			} else if add.at.Equal(h(0)) {
				if err := tx.SetUsageReported(ctx(t), "api_calls", add.at, "18446744073709551613", 2); err != nil {
					return err
				}
			}
			return tx.Flush(ctx(t))
		}))
	}
	var lines []eventstore.ReconLine
	require.NoError(t, app.InTenant(ctx(t), a, true, func(tx *eventstore.Tx) error {
		var err error
		lines, err = tx.Reconcile(ctx(t), mar, mar.AddDate(0, 1, 0), h(2))
		return err
	}))
	require.Equal(t, []string{
		"api_calls 2026-03 recorded 27670116110564327421 reported 18446744073709551613 difference 9223372036854775808 unreported 1 in progress 18446744073709551614",
		"storage 2026-03 recorded 18446744073709551614 reported 18446744073709551614 difference 0 unreported 0 in progress 0",
	}, reconLines(lines))
}
