package usage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

func TestParseRecordJSON_Accepts(t *testing.T) {
	m, q, k := parts(t)
	tests := []struct {
		name string
		in   string
		at   time.Time
	}{
		{"Full", `{"metric":"api_calls","quantity":12,"occurred_at":"2025-03-01T11:00:00Z","idempotency_key":"req-1"}`,
			now.Add(-time.Hour)},
		{"OccurredAtOmittedMeansNow", `{"metric":"api_calls","quantity":12,"idempotency_key":"req-1"}`, now},
		{"OffsetConvertedToUTC", `{"metric":"api_calls","quantity":12,"occurred_at":"2025-03-01T13:00:00.5+02:00","idempotency_key":"req-1"}`,
			now.Add(-time.Hour + 500*time.Millisecond)},
		{"AnyKeyOrderAndWhitespace", "\n{ \"idempotency_key\" : \"req-1\",\t\"quantity\": 12 , \"metric\":\"api_calls\" }\n", now},
		{"EscapedStrings", `{"metric":"api\u005fcalls","quantity":12,"idempotency_key":"req\u002d1"}`, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := usage.ParseRecordJSON([]byte(tt.in), now)
			require.NoError(t, err)
			require.Equal(t, usage.Recorded{Metric: m, Quantity: q, OccurredAt: tt.at, IdempotencyKey: k}, r)
		})
	}
}

func TestParseRecordJSON_Rejects(t *testing.T) {
	const tail = `"idempotency_key":"req-1"}`
	tests := []struct{ name, in, field, message string }{
		{"Empty", ``, "", "JSON object"},
		{"NotJSON", `metric=api_calls`, "", "JSON object"},
		{"Array", `[{"metric":"a","quantity":1,"idempotency_key":"k"}]`, "", "JSON object"},
		{"Null", `null`, "", "JSON object"},
		{"Truncated", `{"metric":"api_calls","quantity":12,`, "", "valid JSON"},
		{"TrailingObject", `{"metric":"a","quantity":1,"idempotency_key":"k"} {}`, "", "single JSON object"},
		{"TrailingGarbage", `{"metric":"a","quantity":1,"idempotency_key":"k"}x`, "", "single JSON object"},
		{"UnknownField", `{"metric":"a","quantity":1,"unit":"ms",` + tail, "", `unknown field "unit"`},
		{"WrongCaseField", `{"Metric":"a","quantity":1,` + tail, "", `unknown field "Metric"`},
		{"LongUnknownFieldIsClipped", `{"` + strings.Repeat("x", 100) + `":1}`, "", `xxx..."`},
		{"DuplicateField", `{"metric":"a","metric":"b","quantity":1,` + tail, "metric", "more than once"},
		{"MissingMetric", `{"quantity":1,` + tail, "metric", "required"},
		{"MissingQuantity", `{"metric":"a",` + tail, "quantity", "required"},
		{"MissingKey", `{"metric":"a","quantity":1}`, "idempotency_key", "required"},
		{"MetricNotString", `{"metric":1,"quantity":1,` + tail, "metric", "JSON string"},
		{"MetricNull", `{"metric":null,"quantity":1,` + tail, "metric", "JSON string"},
		{"MetricInvalid", `{"metric":"API","quantity":1,` + tail, "metric", "lowercase"},
		{"QuantityString", `{"metric":"a","quantity":"12",` + tail, "quantity", "whole number"},
		{"QuantityFraction", `{"metric":"a","quantity":1.5,` + tail, "quantity", "whole number"},
		{"QuantityIntegralFraction", `{"metric":"a","quantity":12.0,` + tail, "quantity", "whole number"},
		{"QuantityExponent", `{"metric":"a","quantity":1e3,` + tail, "quantity", "whole number"},
		{"QuantityNegative", `{"metric":"a","quantity":-1,` + tail, "quantity", "whole number"},
		{"QuantityZero", `{"metric":"a","quantity":0,` + tail, "quantity", "whole number"},
		{"QuantityNull", `{"metric":"a","quantity":null,` + tail, "quantity", "whole number"},
		{"KeyInvalid", `{"metric":"a","quantity":1,"idempotency_key":"has space"}`, "idempotency_key", "printable ASCII"},
		{"KeyNotString", `{"metric":"a","quantity":1,"idempotency_key":7}`, "idempotency_key", "JSON string"},
		{"OccurredAtDateOnly", `{"metric":"a","quantity":1,"occurred_at":"2025-03-01",` + tail, "occurred_at", "RFC 3339"},
		{"OccurredAtNoZone", `{"metric":"a","quantity":1,"occurred_at":"2025-03-01T12:00:00",` + tail, "occurred_at", "RFC 3339"},
		{"OccurredAtUnixNumber", `{"metric":"a","quantity":1,"occurred_at":1740830400,` + tail, "occurred_at", "JSON string"},
		{"OccurredAtNull", `{"metric":"a","quantity":1,"occurred_at":null,` + tail, "occurred_at", "JSON string"},
		{"OccurredAtTooOld", `{"metric":"a","quantity":1,"occurred_at":"2025-01-01T00:00:00Z",` + tail, "occurred_at", "35 days"},
		{"OccurredAtFuture", `{"metric":"a","quantity":1,"occurred_at":"2025-03-01T12:05:01Z",` + tail, "occurred_at", "5 minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := usage.ParseRecordJSON([]byte(tt.in), now)
			require.Equal(t, usage.Recorded{}, r)
			requireInvalid(t, err, tt.field)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			require.Contains(t, de.Message, tt.message)
		})
	}
}

func TestParseRecordJSON_RefusesQuantitiesAboveTheMaximumAsALimit(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []string{"1000000000001", "9223372036854775807", "9223372036854775808"} {
		_, err := usage.ParseRecordJSON([]byte(`{"metric":"a","quantity":`+q+`,"idempotency_key":"k"}`), now)
		var de *domain.Error
		require.ErrorAs(t, err, &de, q)
		require.Equal(t, domain.CodeLimit, de.Code, q)
		require.Equal(t, "quantity", de.Field, q)
	}
}

func TestParseRecordJSON_NamesEveryInvalidField(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	_, err := usage.ParseRecordJSON([]byte(`{"metric":"API","quantity":-1,"occurred_at":"yesterday","unit":"ms"}`), now)
	var all domain.Invalids
	require.ErrorAs(t, err, &all)
	fields := make([]string, len(all))
	for i, e := range all {
		require.Equal(t, domain.CodeInvalid, e.Code)
		fields[i] = e.Field
	}
	require.Equal(t, []string{"metric", "quantity", "occurred_at", "", "idempotency_key"}, fields)
}
