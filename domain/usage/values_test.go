package usage_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	require.Equal(t, domain.CodeInvalid, de.Code, "error: %v", err)
	require.Equal(t, field, de.Field)
}

func TestParseMetric_AcceptsLowercaseIdentifiers(t *testing.T) {
	for _, s := range []string{"a", "api_calls", "storage_gb", "x1", "a" + strings.Repeat("b", 62)} {
		m, err := usage.ParseMetric(s)
		require.NoError(t, err, s)
		require.Equal(t, s, m.String())
	}
	for _, s := range []string{"", "1a", "_a", "Api", "api-calls", "api calls", "api.calls", "a" + strings.Repeat("b", 63), "api_calls\n", "é"} {
		_, err := usage.ParseMetric(s)
		requireInvalid(t, err, "metric")
	}
}

func TestParseQuantity_AcceptsOnlyCanonicalPositiveIntegers(t *testing.T) {
	good := map[string]int64{"1": 1, "12": 12, "1000000": 1000000, "1000000000000": usage.MaxQuantity}
	for s, want := range good {
		q, err := usage.ParseQuantity(s)
		require.NoError(t, err, s)
		require.Equal(t, want, q.Int64())
		require.Equal(t, s, q.String())
	}
	for _, s := range []string{"", "0", "00", "01", "-1", "+1", "1.0", "1.5", "1e3", "1E3", " 1", "1 ", "0x10", "1_000",
		"１", `"12"`, "null"} {
		_, err := usage.ParseQuantity(s)
		requireInvalid(t, err, "quantity")
	}
}

func TestNewQuantity_RejectsNonPositive(t *testing.T) {
	q, err := usage.NewQuantity(5)
	require.NoError(t, err)
	require.Equal(t, int64(5), q.Int64())
	for _, n := range []int64{0, -1, -9223372036854775808} {
		_, err := usage.NewQuantity(n)
		requireInvalid(t, err, "quantity")
	}
}

func TestParseIdempotencyKey_AcceptsPrintableASCII(t *testing.T) {
	for _, s := range []string{"k", "req-2025-01-02T03:04:05Z#1", "!~", strings.Repeat("k", 255)} {
		k, err := usage.ParseIdempotencyKey(s)
		require.NoError(t, err, s)
		require.Equal(t, s, k.String())
	}
	for _, s := range []string{"", " ", "a b", "a\tb", "a\x7f", "ключ", strings.Repeat("k", 256), "k\n"} {
		_, err := usage.ParseIdempotencyKey(s)
		requireInvalid(t, err, "idempotency_key")
	}
}

func TestValues_RefuseToEncodeWhenUnset(t *testing.T) {
	for _, v := range []any{usage.Metric{}, usage.Quantity{}, usage.IdempotencyKey{}} {
		_, err := json.Marshal(v)
		require.Error(t, err, "%T", v)
	}
}

func TestParseQuantity_RefusesMoreThanMaxQuantityAsALimit(t *testing.T) {
	for _, s := range []string{"1000000000001", "9223372036854775807", "9223372036854775808", "99999999999999999999999"} {
		_, err := usage.ParseQuantity(s)
		var de *domain.Error
		require.ErrorAs(t, err, &de, s)
		require.Equal(t, domain.CodeLimit, de.Code, s)
		require.Equal(t, "quantity", de.Field)
	}
	_, err := usage.NewQuantity(usage.MaxQuantity + 1)
	require.Error(t, err)
}

func TestQuantity_StoredAboveMaxQuantityStillDecodes(t *testing.T) {
	var q usage.Quantity
	require.NoError(t, json.Unmarshal([]byte("9223372036854775807"), &q), "history written before the bound replays")
	require.Equal(t, int64(9223372036854775807), q.Int64())
	require.Error(t, json.Unmarshal([]byte("9223372036854775808"), &q))
}

func TestAddQuantities_RefusesOverflow(t *testing.T) {
	s, ok := usage.AddQuantities(1, 2)
	require.True(t, ok)
	require.Equal(t, int64(3), s)
	_, ok = usage.AddQuantities(9223372036854775807, 1)
	require.False(t, ok)
	_, ok = usage.AddQuantities(9223372036854775807-5, 5)
	require.True(t, ok)
}
