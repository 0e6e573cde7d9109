package plans_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

func TestQuota_CrossedListsTheSoftQuotasThresholdsReached(t *testing.T) {
	dec := func(s string) usage.Decimal {
		d, err := usage.ParseDecimal(s)
		require.NoError(t, err)
		return d
	}
	quota := func(included, beyond string) plans.Quota {
		var q plans.Quota
		require.NoError(t, q.Included.UnmarshalText([]byte(included)))
		b, err := plans.ParseBeyond(beyond)
		require.NoError(t, err)
		q.Beyond = b
		return q
	}
	for _, tc := range []struct {
		name, included, beyond, used string
		want                         []int
	}{
		{"Below80", "100", "soft", "79.999", nil},
		{"Exactly80", "100", "soft", "80", []int{80}},
		{"Between", "100", "soft", "99.99", []int{80}},
		{"Exactly100", "100", "soft", "100", []int{80, 100}},
		{"Beyond", "100", "soft", "1000000000000000000000", []int{80, 100}},
		{"DecimalQuota", "2.5", "soft", "2", []int{80}},
		{"ZeroQuotaNoUsage", "0", "soft", "0", nil},
		{"ZeroQuotaAnyUsage", "0", "soft", "0.001", []int{80, 100}},
		{"HardIsNeverAlerted", "100", "hard", "100", nil},
		{"OverageIsNeverAlerted", "100", "overage", "100", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, quota(tc.included, tc.beyond).Crossed(dec(tc.used)))
		})
	}
}

func TestAlertID_IsOnePerTenantMetricPeriodAndThreshold(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	m, _ := usage.ParseMetric("api_calls")
	n, _ := usage.ParseMetric("storage_gb")
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	id := plans.AlertID(a, m, dec, 80)
	require.Equal(t, id, plans.AlertID(a, m, dec.In(time.FixedZone("x", 3600)), 80), "the same period in another zone")
	for _, other := range []uuid.UUID{plans.AlertID(b, m, dec, 80), plans.AlertID(a, n, dec, 80),
		plans.AlertID(a, m, dec.AddDate(0, 1, 0), 80), plans.AlertID(a, m, dec, 100)} {
		require.NotEqual(t, id, other)
	}
}
