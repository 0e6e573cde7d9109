package entitlements_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/entitlements"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

func metric(t *testing.T, s string) usage.Metric {
	t.Helper()
	m, err := usage.ParseMetric(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dec(t *testing.T, s string) usage.Decimal {
	t.Helper()
	d, err := usage.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func quota(t *testing.T, included string, beyond plans.Beyond) plans.Quota {
	t.Helper()
	d, err := plans.ParseDecimal(included, usage.MaxScale)
	if err != nil {
		t.Fatal(err)
	}
	return plans.Quota{Included: d, Beyond: beyond}
}

// fixture is a plan with every kind of quota, its metric definitions and a period's totals.
func fixture(t *testing.T) (plans.Plan, usage.StaticDefinitions, entitlements.Totals) {
	calls, storage, seats, gb, events := metric(t, "api_calls"), metric(t, "storage_gb"), metric(t, "seats_used"), metric(t, "egress_gb"), metric(t, "events")
	defs := usage.StaticDefinitions{
		calls:   {Metric: calls, Kind: usage.KindCounter, Aggregation: usage.AggregationSum},
		storage: {Metric: storage, Kind: usage.KindGauge, Aggregation: usage.AggregationMax, Scale: 2, Unit: "GB"},
		seats:   {Metric: seats, Kind: usage.KindGauge, Aggregation: usage.AggregationLast},
		gb:      {Metric: gb, Kind: usage.KindCounter, Aggregation: usage.AggregationSum, Scale: 3},
		events:  {Metric: events, Kind: usage.KindCounter, Aggregation: usage.AggregationSum},
	}
	plan := plans.Plan{Version: 3, Spec: plans.Spec{Key: domain.PlanPro, Features: map[string]bool{"sso": true, "audit_export": false},
		Metrics: map[usage.Metric]plans.Quota{
			calls:   quota(t, "100", plans.BeyondHard),
			storage: quota(t, "10.5", plans.BeyondSoft),
			seats:   quota(t, "5", plans.BeyondHard),
			gb:      quota(t, "2", plans.BeyondOverage),
		}}}
	totals := entitlements.Totals{
		calls:   {Metric: calls, Sum: dec(t, "97")},
		storage: {Metric: storage, Sum: dec(t, "30"), Max: dec(t, "12.25"), Last: dec(t, "3")},
		seats:   {Metric: seats, Sum: dec(t, "9"), Max: dec(t, "6"), Last: dec(t, "4")},
		gb:      {Metric: gb, Sum: dec(t, "1.125")},
		events:  {Metric: events, Sum: dec(t, "1000")},
	}
	return plan, defs, totals
}

func TestOf_ListsUsageByEachMetricsAggregationWithRemainingNeverBelowZero(t *testing.T) {
	plan, defs, totals := fixture(t)
	at := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	l := entitlements.Of(plan, defs, entitlements.PeriodOf(at), totals)
	if want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); !l.Period.End.Equal(want) || !l.Period.Start.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("period = %v, want December 2026 ending %v", l.Period, want)
	}
	want := []struct {
		metric, usage, remaining string
		exceeded                 bool
	}{
		{"api_calls", "97", "3", false},
		{"egress_gb", "1.125", "0.875", false},
		{"seats_used", "4", "1", false},    // last reading, not the max (6)
		{"storage_gb", "12.25", "0", true}, // max reading, beyond 10.5
	}
	if len(l.Metrics) != len(want) {
		t.Fatalf("%d metrics, want %d (only the plan's metered ones)", len(l.Metrics), len(want))
	}
	for i, w := range want {
		m := l.Metrics[i]
		if m.Definition.Metric.String() != w.metric || m.Usage.String() != w.usage || m.Remaining.String() != w.remaining || m.Exceeded != w.exceeded {
			t.Errorf("metric %d = %s usage %s remaining %s exceeded %v, want %+v", i, m.Definition.Metric, m.Usage, m.Remaining, m.Exceeded, w)
		}
	}
	if !l.Features["sso"] || l.Features["audit_export"] || len(l.Features) != 2 {
		t.Errorf("features = %v", l.Features)
	}
}

func TestOf_AGaugeWithoutReadingsAndAMetricWithoutRecordsUseNothing(t *testing.T) {
	plan, defs, _ := fixture(t)
	l := entitlements.Of(plan, defs, entitlements.PeriodOf(time.Now()), entitlements.Totals{})
	for _, m := range l.Metrics {
		if m.Usage.Sign() != 0 || !m.Remaining.Equal(m.Quota.Included.Usage()) || m.Exceeded {
			t.Errorf("%s: usage %s remaining %s exceeded %v, want nothing used", m.Definition.Metric, m.Usage, m.Remaining, m.Exceeded)
		}
	}
}

func TestCheck_AnswersEachReason(t *testing.T) {
	plan, defs, totals := fixture(t)
	l := entitlements.Of(plan, defs, entitlements.PeriodOf(time.Now()), totals)
	cases := []struct {
		name, feature, metric, quantity string
		allowed                         bool
		reason                          entitlements.Reason
	}{
		{"FeatureOn", "sso", "", "", true, entitlements.ReasonFeatureEnabled},
		{"FeatureOff", "audit_export", "", "", false, entitlements.ReasonFeatureDisabled},
		{"FeatureUnknown", "teleport", "", "", false, entitlements.ReasonNotInPlan},
		{"CounterFitsExactly", "", "api_calls", "3", true, entitlements.ReasonIncluded},
		{"CounterOneBeyondHard", "", "api_calls", "4", false, entitlements.ReasonQuotaExceeded},
		{"GaugeHardReadingAtQuota", "", "seats_used", "5", true, entitlements.ReasonIncluded},
		{"GaugeHardReadingBeyond", "", "seats_used", "6", false, entitlements.ReasonQuotaExceeded},
		{"GaugeSoftBeyond", "", "storage_gb", "10.51", true, entitlements.ReasonSoftQuota},
		{"GaugeSoftWithin", "", "storage_gb", "10.5", true, entitlements.ReasonIncluded},
		{"DecimalCounterOverage", "", "egress_gb", "0.876", true, entitlements.ReasonOverage},
		{"DecimalCounterWithin", "", "egress_gb", "0.875", true, entitlements.ReasonIncluded},
		{"DeclaredWithoutQuota", "", "events", "1000000", true, entitlements.ReasonNoQuota},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := entitlements.ParseRequest(c.feature, c.metric, c.quantity, plan, defs)
			if err != nil {
				t.Fatal(err)
			}
			a := l.Check(r)
			if b := entitlements.Check(plan, defs, l.Period, totals, r); b.Allowed != a.Allowed || b.Reason != a.Reason || b.Message != a.Message {
				t.Fatalf("Check = %+v, the list's check = %+v", b, a)
			}
			if a.Allowed != c.allowed || a.Reason != c.reason || a.Message == "" {
				t.Fatalf("answer = %v %s %q, want %v %s", a.Allowed, a.Reason, a.Message, c.allowed, c.reason)
			}
			if c.metric != "" && c.reason != entitlements.ReasonNoQuota && (a.Metric == nil || a.Metric.Definition.Metric.String() != c.metric) {
				t.Fatalf("answer names metric %+v, want %s", a.Metric, c.metric)
			}
		})
	}
}

func TestParseRequest_RefusesMalformedChecks(t *testing.T) {
	plan, defs, _ := fixture(t)
	cases := []struct{ name, feature, metric, quantity, field string }{
		{"Nothing", "", "", "", "body"},
		{"Both", "sso", "api_calls", "1", "body"},
		{"FeatureWithQuantity", "sso", "", "1", "quantity"},
		{"FeatureBadlyShaped", "SSO!", "", "", "feature"},
		{"FeatureTooLong", "a234567890123456789012345678901234567890123456789012345678901234", "", "", "feature"},
		{"MetricBadlyShaped", "", "Api Calls", "1", "metric"},
		{"MetricNotInCatalog", "", "unheard_of", "1", "metric"},
		{"MetricWithoutQuantity", "", "api_calls", "", "quantity"},
		{"QuantityZero", "", "api_calls", "0", "quantity"},
		{"QuantityNegative", "", "api_calls", "-1", "quantity"},
		{"QuantityDecimalForWholeMetric", "", "api_calls", "1.5", "quantity"},
		{"QuantityBeyondScale", "", "storage_gb", "1.125", "quantity"},
		{"QuantityExponent", "", "storage_gb", "1e3", "quantity"},
		{"QuantityTooLarge", "", "api_calls", "1000000000001", "quantity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := entitlements.ParseRequest(c.feature, c.metric, c.quantity, plan, defs)
			var de *domain.Error
			if !errors.As(err, &de) || de.Field != c.field {
				t.Fatalf("error = %v, want a domain error on field %q", err, c.field)
			}
		})
	}
}
