package usage_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

func TestDecimal_AddsSubtractsAndComparesExactlyAcrossScales(t *testing.T) {
	d := func(s string) usage.Decimal {
		v, err := usage.ParseDecimal(s)
		require.NoError(t, err, s)
		return v
	}
	require.Equal(t, "3.75", d("1.5").Add(d("2.25")).String())
	require.Equal(t, "4", d("1.75").Add(d("2.25")).String(), "a whole sum is a whole number again")
	require.Equal(t, d("4"), d("1.75").Add(d("2.25")), "normalised: equal values are equal Go values")
	require.Equal(t, "-0.75", d("1.5").Sub(d("2.25")).String())
	require.Equal(t, "0.000001", d("0.000001").String())
	require.Equal(t, d("3"), d("3.000"), "a numeric's trailing zeros are dropped")
	require.Equal(t, 1, d("1.000001").Cmp(d("1")))
	require.Equal(t, -1, d("99999999999999999999.5").Cmp(d("100000000000000000000")))
	require.Equal(t, "100000000000000000000.25", d("99999999999999999999.75").Add(d("0.5")).String())
	units, ok := d("1.25").Units(6)
	require.True(t, ok)
	require.Equal(t, "1250000", units.String())
	_, ok = d("1.25").Units(1)
	require.False(t, ok)
	b, err := json.Marshal(d("12"))
	require.NoError(t, err)
	require.Equal(t, "12", string(b), "a whole decimal encodes as the integer it is")
	var back usage.Decimal
	require.NoError(t, json.Unmarshal([]byte("1.25"), &back))
	require.Equal(t, d("1.25"), back)
	for _, bad := range []string{"", ".5", "1.", "01", "1e3", "+1", "1.2.3", "1,5", "-", "-.5", "0x1", "1." + strings.Repeat("0", 31)} {
		_, err := usage.ParseDecimal(bad)
		require.Error(t, err, bad)
	}
}

func TestParseQuantityScale_AcceptsUpToTheMetricsPlaces(t *testing.T) {
	for _, tc := range []struct {
		in    string
		scale int
		want  string
		code  domain.Code
	}{
		{"1.25", 2, "1.25", ""},
		{"1.50", 2, "1.5", ""},
		{"1.0", 1, "1", ""},
		{"0.5", 1, "0.5", ""},
		{"0.000001", 6, "0.000001", ""},
		{"1000000000000", 6, "1000000000000", ""},
		{"999999999999.999999", 6, "999999999999.999999", ""},
		{"12", 0, "12", ""},
		{"1.25", 1, "", domain.CodeInvalid},
		{"1.5", 0, "", domain.CodeInvalid},
		{"1.0", 0, "", domain.CodeInvalid},
		{"0.0", 2, "", domain.CodeInvalid},
		{"01.5", 2, "", domain.CodeInvalid},
		{"1.", 2, "", domain.CodeInvalid},
		{".5", 2, "", domain.CodeInvalid},
		{"-1.5", 2, "", domain.CodeInvalid},
		{"1.5e1", 2, "", domain.CodeInvalid},
		{"1000000000000.5", 2, "", domain.CodeLimit},
		{"99999999999999999999.5", 2, "", domain.CodeLimit},
	} {
		q, err := usage.ParseQuantityScale(tc.in, tc.scale)
		if tc.code != "" {
			require.Equal(t, tc.code, domain.ErrorCode(err), "%s at scale %d", tc.in, tc.scale)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, q.String())
	}
	_, err := usage.ParseQuantityScale("1.5", 0)
	_, whole := usage.ParseQuantity("1.5")
	require.Equal(t, whole.Error(), err.Error(), "scale 0 answers exactly as before")
}

func TestParseRecordJSONFor_DecimalQuantitiesFollowTheMetricsScale(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	defs := usage.StaticDefinitions{
		mustMetric(t, "storage_gb"): {Metric: mustMetric(t, "storage_gb"), Kind: usage.KindGauge, Aggregation: usage.AggregationMax, Scale: 2},
	}
	r, err := usage.ParseRecordJSONFor([]byte(`{"quantity":1.25,"metric":"storage_gb","idempotency_key":"k"}`), now, defs)
	require.NoError(t, err, "the quantity may come before its metric")
	require.Equal(t, "1.25", r.Quantity.String())
	stored, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(stored), `"quantity":1.25`, "the event holds the canonical decimal")
	var back usage.Recorded
	require.NoError(t, json.Unmarshal(stored, &back))
	require.Equal(t, r, back)

	_, err = usage.ParseRecordJSONFor([]byte(`{"metric":"storage_gb","quantity":1.255,"idempotency_key":"k"}`), now, defs)
	require.Equal(t, "quantity", fieldOf(err))
	_, err = usage.ParseRecordJSONFor([]byte(`{"metric":"api_calls","quantity":1.5,"idempotency_key":"k"}`), now, defs)
	require.Equal(t, "quantity", fieldOf(err), "an undeclared metric counts whole units")
	_, old := usage.ParseRecordJSON([]byte(`{"metric":"api_calls","quantity":1.5,"idempotency_key":"k"}`), now)
	require.Equal(t, old.Error(), err.Error())
	_, err = usage.ParseRecordJSONFor([]byte(`{"metric":"Bad","quantity":1.5,"idempotency_key":"k"}`), now, defs)
	var many domain.Invalids
	require.ErrorAs(t, err, &many, "a bad metric and a bad quantity are both named")
	require.Equal(t, "metric", many[0].Field)
	require.Equal(t, "quantity", many[1].Field)
}

func mustMetric(t testing.TB, s string) usage.Metric {
	m, err := usage.ParseMetric(s)
	require.NoError(t, err)
	return m
}

func fieldOf(err error) string {
	var de *domain.Error
	if e, ok := err.(*domain.Error); ok {
		de = e
	}
	if de == nil {
		return ""
	}
	return de.Field
}
