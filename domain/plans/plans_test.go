package plans_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

const doc = `{
  "metrics": [
    {"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0, "unit": "calls", "meter": "api_requests"},
    {"metric": "storage_gb", "kind": "gauge", "aggregation": "max", "scale": 3, "unit": "GB"}
  ],
  "plans": [
    {"key": "free", "name": "Free", "intervals": {"monthly": {}}, "limits": {"seats": 3, "requests_per_second": 5, "burst": 10}},
    {"key": "pro", "name": "Pro", "intervals": {"monthly": {"stripe_price": "price_pro_m"}, "yearly": {"amount": 50000, "currency": "usd"}},
     "trial_days": 14, "limits": {"seats": 25, "requests_per_second": 50, "burst": 100},
     "features": {"sso": false, "audit_export": true},
     "metrics": {"api_calls": {"included": 100000, "beyond": "overage"}, "storage_gb": {"included": "10.500", "beyond": "hard"}}}
  ]
}`

func parse(t *testing.T, s string) plans.Definitions {
	t.Helper()
	defs, err := plans.ParseDocument([]byte(s))
	require.NoError(t, err)
	return defs
}

func apply(t *testing.T, c *plans.Catalog, events []domain.Event) {
	t.Helper()
	for _, e := range events {
		require.NoError(t, c.Apply(e))
	}
}

func TestParseDocument_ReadsEveryField(t *testing.T) {
	defs := parse(t, doc)
	require.Len(t, defs.Metrics, 2)
	require.Equal(t, "api_requests", defs.Metrics[0].Meter)
	require.Equal(t, usage.KindGauge, defs.Metrics[1].Kind)
	pro := defs.Plans[1]
	require.Equal(t, domain.PlanPro, pro.Key)
	require.Equal(t, []plans.Interval{plans.Monthly, plans.Yearly}, pro.IntervalNames())
	require.Equal(t, plans.Price{Amount: 50000, Currency: "usd"}, pro.Intervals[plans.Yearly])
	require.Equal(t, 14, pro.TrialDays)
	require.Equal(t, domain.Limits{Seats: 25, RequestsPerSecond: 50, Burst: 100}, pro.Limits)
	require.Equal(t, map[string]bool{"sso": false, "audit_export": true}, pro.Features)
	storage, _ := usage.ParseMetric("storage_gb")
	require.Equal(t, "10.5", pro.Metrics[storage].Included.String())
	units, ok := pro.Metrics[storage].Included.Units(3)
	require.True(t, ok)
	require.Equal(t, int64(10500), units)
}

func TestParseDocument_NamesTheBadField(t *testing.T) {
	plan := func(p string) string {
		return `{"plans": [` + p + `]}`
	}
	base := `"key": "pro", "name": "Pro", "intervals": {"monthly": {}}, "limits": {"seats": 3, "requests_per_second": 5, "burst": 10}`
	tests := []struct{ name, doc, field string }{
		{"NotJSON", `{`, "catalog"},
		{"UnknownField", `{"plans": [], "extra": 1}`, "catalog"},
		{"UnknownPlanField", plan(`{` + base + `, "color": "red"}`), "catalog"},
		{"Trailing", plan(`{`+base+`}`) + ` {}`, "catalog"},
		{"NoPlans", `{"plans": []}`, "plans"},
		{"BadKey", plan(`{"key": "Pro", "name": "x", "intervals": {"monthly": {}}, "limits": {"seats": 1, "requests_per_second": 1, "burst": 1}}`), "plans.plan"},
		{"DuplicateKey", plan(`{` + base + `}, {` + base + `}`), "plans.pro.key"},
		{"NoName", plan(`{"key": "pro", "name": "", "intervals": {"monthly": {}}, "limits": {"seats": 1, "requests_per_second": 1, "burst": 1}}`), "plans.pro.name"},
		{"NoInterval", plan(`{"key": "pro", "name": "P", "intervals": {}, "limits": {"seats": 1, "requests_per_second": 1, "burst": 1}}`), "plans.pro.intervals"},
		{"BadInterval", plan(`{"key": "pro", "name": "P", "intervals": {"weekly": {}}, "limits": {"seats": 1, "requests_per_second": 1, "burst": 1}}`), "plans.pro.intervals"},
		{"AmountWithoutCurrency", plan(`{"key": "pro", "name": "P", "intervals": {"yearly": {"amount": 5}}, "limits": {"seats": 1, "requests_per_second": 1, "burst": 1}}`), "plans.pro.intervals.yearly"},
		{"BadPrice", plan(`{"key": "pro", "name": "P", "intervals": {"yearly": {"stripe_price": "a b"}}, "limits": {"seats": 1, "requests_per_second": 1, "burst": 1}}`), "plans.pro.intervals.yearly"},
		{"NoSeats", plan(`{"key": "pro", "name": "P", "intervals": {"monthly": {}}, "limits": {"seats": 0, "requests_per_second": 1, "burst": 1}}`), "plans.pro.limits"},
		{"Trial", plan(`{` + base + `, "trial_days": 400}`), "plans.pro.trial_days"},
		{"BadFeature", plan(`{` + base + `, "features": {"Bad Name": true}}`), "plans.pro.features"},
		{"QuotaScale", plan(`{` + base + `, "metrics": {"api_calls": {"included": "1.5", "beyond": "hard"}}}`), "plans.pro.metrics.api_calls.included"},
		{"QuotaNegative", plan(`{` + base + `, "metrics": {"api_calls": {"included": -1, "beyond": "hard"}}}`), "plans.pro.metrics.api_calls.included"},
		{"BadBeyond", plan(`{` + base + `, "metrics": {"api_calls": {"included": 1, "beyond": "stop"}}}`), "plans.pro.metrics.api_calls.beyond"},
		{"OverageWithoutMeter", plan(`{` + base + `, "metrics": {"api_calls": {"included": 1, "beyond": "overage"}}}`), "plans.pro.metrics.api_calls.beyond"},
		{"BadMetric", `{"metrics": [{"metric": "m", "kind": "counter", "aggregation": "max", "scale": 0}], "plans": [{` + base + `}]}`, "metrics[0].aggregation"},
		{"DuplicateMetric", `{"metrics": [{"metric": "m", "kind": "counter", "aggregation": "sum", "scale": 0}, {"metric": "m", "kind": "counter", "aggregation": "sum", "scale": 0}], "plans": [{` + base + `}]}`, "metrics[1].metric"},
		{"TooLarge", `{"plans": [` + strings.Repeat(" ", plans.MaxDocumentBytes) + `]}`, "catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plans.ParseDocument([]byte(tt.doc))
			require.Error(t, err)
			require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), err.Error())
			require.Equal(t, tt.field, err.(*domain.Error).Field, err.Error())
		})
	}
}

func TestDecide_SameDocumentTwiceDecidesNothingTheSecondTime(t *testing.T) {
	c := plans.Default(domain.DefaultPlans())
	diff, events := c.Decide(parse(t, doc))
	require.Equal(t, []plans.Change{{Key: "free", Status: plans.Unchanged, Version: 1}, {Key: "pro", Status: plans.Changed, Version: 2},
		{Key: "enterprise", Status: plans.Retired, Version: 1}}, diff.Plans)
	require.Equal(t, []plans.Change{{Key: "api_calls", Status: plans.Added, Version: 1}, {Key: "storage_gb", Status: plans.Added, Version: 1}}, diff.Metrics)
	require.Len(t, events, 4)
	apply(t, c, events)
	require.Equal(t, int64(4), c.StreamVersion())

	diff, events = c.Decide(parse(t, doc))
	require.Empty(t, events)
	require.False(t, diff.Changes())
	require.Equal(t, plans.Unchanged, diff.Plans[1].Status)
	require.Equal(t, 2, diff.Plans[1].Version)
}

func TestCatalog_KeepsEveryVersionAndRetiredPlans(t *testing.T) {
	c := plans.Default(domain.DefaultPlans())
	_, events := c.Decide(parse(t, doc))
	before := c.Clone()
	apply(t, c, events)
	_, ok := before.Version(domain.PlanPro, 2)
	require.False(t, ok, "a clone is independent of the catalog it was taken from")

	v1, ok := c.Version(domain.PlanPro, 1)
	require.True(t, ok)
	require.Equal(t, domain.Limits{Seats: 25, RequestsPerSecond: 50, Burst: 100}, v1.Limits)
	cur, ok := c.Current(domain.PlanPro)
	require.True(t, ok)
	require.Equal(t, 2, cur.Version)
	require.Len(t, c.Versions(domain.PlanPro), 2)
	_, ok = c.Current(domain.PlanEnterprise)
	require.False(t, ok, "a retired plan has no current version")
	require.True(t, c.Retired(domain.PlanEnterprise))
	require.Equal(t, 10_000, c.Limits(domain.PlanEnterprise, 1).Seats, "tenants on a retired plan keep its limits")
	def, ok := c.Definition(usage.Metric{})
	require.False(t, ok)
	require.Zero(t, def)
	storage, _ := usage.ParseMetric("storage_gb")
	def, ok = c.Definition(storage)
	require.True(t, ok)
	require.Equal(t, usage.AggregationMax, def.Aggregation)

	// Dropping the metrics and defining enterprise again: metrics retired, enterprise v2.
	next := strings.Replace(doc, `"plans": [`, `"plans": [{"key": "enterprise", "name": "Enterprise", "intervals": {"monthly": {}}, "limits": {"seats": 10000, "requests_per_second": 500, "burst": 1000}},`, 1)
	next = next[:strings.Index(next, `"metrics": [`)] + `"metrics": [{"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0, "unit": "calls", "meter": "api_requests"}],` + next[strings.Index(next, `"plans"`)-2:]
	next = strings.Replace(next, `"storage_gb": {"included": "10.500", "beyond": "hard"}`, `"storage_gb": {"included": "10", "beyond": "hard"}`, 1)
	diff, events := c.Decide(parse(t, next))
	require.Equal(t, []plans.Change{{Key: "api_calls", Status: plans.Unchanged, Version: 1}, {Key: "storage_gb", Status: plans.Retired, Version: 1}}, diff.Metrics)
	require.Equal(t, plans.Change{Key: "enterprise", Status: plans.Changed, Version: 2}, diff.Plans[0])
	require.Equal(t, plans.Change{Key: "pro", Status: plans.Changed, Version: 3}, diff.Plans[2])
	apply(t, c, events)
	_, ok = c.Definition(storage)
	require.False(t, ok)
	_, ok = c.Current(domain.PlanEnterprise)
	require.True(t, ok)
}

func TestCatalog_RefusesEventsOutOfOrder(t *testing.T) {
	c := plans.Default(domain.DefaultPlans())
	defs := parse(t, doc)
	require.Error(t, c.Apply(plans.PlanDefined{Plan: plans.Plan{Spec: defs.Plans[1], Version: 3}}))
	require.Error(t, c.Apply(plans.PlanRetired{Plan: mustPlan(t, "gold")}))
	require.Error(t, c.Apply(plans.MetricRetired{Metric: defs.Metrics[0].Metric}))
}

func TestEvents_RoundTripThroughJSON(t *testing.T) {
	c := plans.Default(domain.DefaultPlans())
	_, events := c.Decide(parse(t, doc))
	for _, e := range events {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		switch e := e.(type) {
		case plans.PlanDefined: // maps: compared by their canonical encoding
			var v plans.PlanDefined
			require.NoError(t, json.Unmarshal(b, &v))
			require.True(t, v.Plan.Spec.Equal(e.Plan.Spec))
			require.Equal(t, e.Plan.Version, v.Plan.Version)
		case plans.MetricDefined:
			var v plans.MetricDefined
			require.NoError(t, json.Unmarshal(b, &v))
			require.Equal(t, e, v)
		case plans.PlanRetired:
			var v plans.PlanRetired
			require.NoError(t, json.Unmarshal(b, &v))
			require.Equal(t, e, v)
		}
	}
}

func TestParseDecimal_CanonicalAndBounded(t *testing.T) {
	good := map[string]string{"0": "0", "000": "0", "10.50": "10.5", "1.000": "1", ".": "", "0.001": "0.001", "999999999999": "999999999999"}
	for in, want := range good {
		d, err := plans.ParseDecimal(in, 3)
		if want == "" {
			require.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		require.Equal(t, want, d.String())
	}
	for _, bad := range []string{"", "-1", "+1", "1e3", "1.0001", " 1", "1,5", "1000000000000", "0x10", "NaN"} {
		_, err := plans.ParseDecimal(bad, 3)
		require.Error(t, err, bad)
	}
}

func TestParseInterval(t *testing.T) {
	for _, i := range plans.Intervals() {
		got, err := plans.ParseInterval(i.String())
		require.NoError(t, err)
		require.Equal(t, i, got)
	}
	_, err := plans.ParseInterval("weekly")
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
}

func mustPlan(t *testing.T, s string) domain.PlanName {
	t.Helper()
	p, err := domain.ParsePlanName(s)
	require.NoError(t, err)
	return p
}
