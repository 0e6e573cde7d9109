package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/app"
)

func TestDueCutoff_IsTheEndOfTheLastWindowPastItsSettleTime(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	require.Equal(t, at("2026-03-10T09:00:00Z"), app.DueCutoff(at("2026-03-10T10:59:59Z"), 90*time.Minute))
	require.Equal(t, at("2026-03-10T10:00:00Z"), app.DueCutoff(at("2026-03-10T11:30:00Z"), 90*time.Minute), "a window due exactly now counts")
	require.Equal(t, at("2026-03-10T10:00:00Z"), app.DueCutoff(at("2026-03-10T12:30:00+02:00"), 5*time.Minute), "in UTC whatever the zone")
}

func TestOpenMonths_ReachBackAsFarAsUsageMayArriveLate(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, c := range []struct{ now, from, to string }{
		{"2026-03-20T12:00:00Z", "2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z"}, // 35 days back is in February
		{"2026-03-31T23:00:00Z", "2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"2026-04-06T00:59:00Z", "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z"}, // 35 days and an hour back is March 1st, 23:59
		{"2026-01-03T00:00:00Z", "2025-11-01T00:00:00Z", "2026-02-01T00:00:00Z"}, // across a year
	} {
		from, to := app.OpenMonths(at(c.now))
		require.Equal(t, at(c.from), from, c.now)
		require.Equal(t, at(c.to), to, c.now)
	}
}
