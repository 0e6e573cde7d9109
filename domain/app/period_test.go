package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
)

func TestParsePeriod_TakesOnlyTheFirstInstantOfAUTCMonthInRFC3339(t *testing.T) {
	dec := time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"2026-12-01T00:00:00Z", dec},
		{"2026-12-01T00:00:00.000Z", dec},
		{"2026-12-01T01:00:00+01:00", dec}, // the same instant, another offset
		{"2026-11-30T19:00:00-05:00", dec},
		{"2000-02-01T00:00:00Z", time.Date(2000, time.February, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-12", time.Time{}}, // the old form
		{"2026-12-01", time.Time{}},
		{"2026-12-01T00:00:00", time.Time{}},
		{"2026-12-01 00:00:00Z", time.Time{}},
		{"2026-12-01T00:00:00+01:00", time.Time{}}, // 23:00 UTC on November 30
		{"2026-12-02T00:00:00Z", time.Time{}},
		{"2026-12-01T00:00:01Z", time.Time{}},
		{"2026-12-01T00:00:00.000000001Z", time.Time{}},
		{"2026-13-01T00:00:00Z", time.Time{}},
		{"", time.Time{}},
		{"december", time.Time{}},
	} {
		got, err := app.ParsePeriod(tc.in)
		if tc.want.IsZero() {
			var de *domain.Error
			require.ErrorAs(t, err, &de, tc.in)
			require.Equal(t, domain.CodeInvalid, de.Code, tc.in)
			require.Equal(t, "period", de.Field, tc.in)
			require.Contains(t, de.Message, app.PeriodExample, "%s: the message shows the accepted form", tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
		require.Equal(t, time.UTC, got.Location(), tc.in)
	}
}
