package billing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/usage"
)

func dec(t *testing.T, s string) usage.Decimal {
	t.Helper()
	d, err := usage.ParseDecimal(s)
	require.NoError(t, err)
	return d
}

// confirm applies planned pushes and their confirmations.
func confirm(t *testing.T, l *billing.Ledger, events []domain.Event) {
	t.Helper()
	for _, e := range events {
		require.NoError(t, l.Apply(e))
		p := e.(billing.UsageReportPlanned)
		done, err := l.Confirm(p.Metric, p.WindowStart, p.Identifier)
		require.NoError(t, err)
		require.NoError(t, l.Apply(done[0]))
	}
}

func TestLedger_PlanGaugeMaxPushesOnlyTheRiseOfThePeriodsMaximum(t *testing.T) {
	metric, err := usage.ParseMetric("storage_gb")
	require.NoError(t, err)
	period := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	l := billing.NewLedger()
	at := period.Add(50 * time.Hour)
	var sum usage.Decimal
	for _, step := range []struct {
		value, delta string
	}{{"9.5", "9.5"}, {"9.5", ""}, {"3", ""}, {"12.25", "2.75"}, {"12.250", ""}} {
		events, err := l.PlanGauge(tenantID, metric, usage.AggregationMax, period, dec(t, step.value), at, "storage_gb", "cus_1")
		require.NoError(t, err)
		if step.delta == "" {
			require.Empty(t, events, step.value)
			continue
		}
		require.Len(t, events, 1)
		p := events[0].(billing.UsageReportPlanned)
		require.Equal(t, step.delta, p.Quantity.String())
		require.Equal(t, "max", p.Aggregation)
		require.Equal(t, at, p.Timestamp())
		sum = sum.Add(p.Quantity)
		confirm(t, l, events)
	}
	require.Equal(t, "12.25", sum.String(), "the deltas add up to the maximum")
	_, err = l.PlanGauge(tenantID, metric, usage.AggregationMax, period.Add(time.Hour), dec(t, "1"), at, "storage_gb", "cus_1")
	require.Error(t, err, "a period starts on the first of a month")
}

func TestLedger_PlanGaugeLastPushesEachNewValueAfterThePreviousOne(t *testing.T) {
	metric, err := usage.ParseMetric("disk_gb")
	require.NoError(t, err)
	period := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	l := billing.NewLedger()
	t0 := period.Add(10*time.Hour + 500*time.Millisecond)
	var last time.Time
	for i, step := range []struct {
		value string
		at    time.Time
		send  bool
	}{
		{"10.5", t0, true},
		{"10.5", t0.Add(time.Hour), false},    // unchanged
		{"4.125", t0, true},                   // a tie at the same instant (a later seq): after the previous one
		{"7", period.Add(-time.Hour), true},   // before the period: clamped, still after the previous one
		{"7", period.AddDate(0, 2, 0), false}, // unchanged
		{"8", period.AddDate(0, 2, 0), true},  // beyond the period: its last second
	} {
		events, err := l.PlanGauge(tenantID, metric, usage.AggregationLast, period, dec(t, step.value), step.at, "disk_gb", "cus_1")
		require.NoError(t, err)
		if !step.send {
			require.Empty(t, events, "step %d", i)
			continue
		}
		require.Len(t, events, 1, "step %d", i)
		p := events[0].(billing.UsageReportPlanned)
		require.Equal(t, step.value, p.Quantity.String(), "the value itself, not a delta")
		require.True(t, p.Timestamp().After(last), "step %d: %v after %v", i, p.Timestamp(), last)
		require.False(t, p.Timestamp().Before(period))
		require.True(t, p.Timestamp().Before(period.AddDate(0, 1, 0)), "step %d: within the period", i)
		require.Equal(t, p.Timestamp(), p.Timestamp().Truncate(time.Second), "whole seconds")
		last = p.Timestamp()
		parts, err := p.MeterEvents(tenantID)
		require.NoError(t, err)
		require.Len(t, parts, 1)
		confirm(t, l, events)
		require.Equal(t, step.value, l.Window("disk_gb", period).Reported.String())
	}
	_, err = l.PlanGauge(tenantID, metric, usage.AggregationLast, period, dec(t, "1000000000000000"), t0, "disk_gb", "cus_1")
	require.Equal(t, domain.CodeLimit, domain.ErrorCode(err), "a last value must fit one meter event")
}

func TestUsageReportPlanned_WholeQuantitiesEncodeAsBefore(t *testing.T) {
	p := billing.UsageReportPlanned{Quantity: dec(t, "12")}
	b, err := p.Quantity.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, "12", string(b))
	p.Quantity = dec(t, "0.125")
	b, err = p.Quantity.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, "0.125", string(b))
}
