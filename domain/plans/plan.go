// Package plans is the plan catalog as data: the operator's document of metrics and plans
// (document.go), each plan's versions (a changed definition is a new version, and a
// tenant stays on the version it joined), the events that record them in the
// deployment's own stream (events.go), and Catalog, the state those events fold into.
package plans

import (
	"bytes"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// Partition is the deployment's own event partition: the plan catalog's stream lives in
// it. It is never a tenant (no slug, no directory row, no read-model schema), so nothing
// lists it as one, and its hash chain is verified like any tenant's.
var Partition = uuid.MustParse("00000000-0000-7000-8000-00000000ca7a")

// StreamID is the catalog's stream in Partition.
const StreamID = "catalog"

// Price is how one billing interval of a plan is charged. StripePrice names an existing
// Stripe price; without it, Amount (minor units) in Currency is what the billing worker
// creates a price for; with neither, the worker uses the price it is configured with for
// the plan (TENANTRY_STRIPE_PRICES), as before the catalog.
type Price struct {
	StripePrice string `json:"stripe_price,omitempty"`
	Amount      int64  `json:"amount,omitempty"`
	Currency    string `json:"currency,omitempty"`
}

// Quota is a plan's allowance of one metric per billing period.
type Quota struct {
	Included Decimal `json:"included"`
	Beyond   Beyond  `json:"beyond"`
}

// Spec is a plan's definition: everything a version fixes.
type Spec struct {
	Key       domain.PlanName        `json:"key"`
	Name      string                 `json:"name"`
	Intervals map[Interval]Price     `json:"intervals"`
	TrialDays int                    `json:"trial_days"`
	Limits    domain.Limits          `json:"limits"`
	Features  map[string]bool        `json:"features"`
	Metrics   map[usage.Metric]Quota `json:"metrics"`
}

// Equal reports whether two definitions are the same plan (their canonical encodings
// are equal: maps are written in key order).
func (s Spec) Equal(o Spec) bool {
	a, errA := json.Marshal(s)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// HasInterval reports whether the plan can be billed at interval i.
func (s Spec) HasInterval(i Interval) bool {
	_, ok := s.Intervals[i]
	return ok
}

// IntervalNames lists the plan's intervals, shortest first.
func (s Spec) IntervalNames() []Interval {
	var out []Interval
	for _, i := range Intervals() {
		if s.HasInterval(i) {
			out = append(out, i)
		}
	}
	return out
}

// Plan is one version of a plan.
type Plan struct {
	Spec
	Version int `json:"version"`
}

// Metric is a metric the catalog declares: its usage definition and, for metrics billed
// beyond a quota, the event name of its Stripe billing meter.
type Metric struct {
	usage.Definition
	Meter string
}

// metricJSON is Metric as events store it (usage.Definition has no JSON form of its own).
type metricJSON struct {
	Metric      usage.Metric `json:"metric"`
	Kind        string       `json:"kind"`
	Aggregation string       `json:"aggregation"`
	Scale       int          `json:"scale"`
	Unit        string       `json:"unit,omitempty"`
	Meter       string       `json:"meter,omitempty"`
}

// MarshalJSON writes the metric's stored form.
func (m Metric) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricJSON{Metric: m.Metric, Kind: m.Kind.String(), Aggregation: m.Aggregation.String(),
		Scale: m.Scale, Unit: m.Unit, Meter: m.Meter})
}

// UnmarshalJSON reads the stored form and validates it.
func (m *Metric) UnmarshalJSON(b []byte) error {
	var j metricJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	v, err := metricFrom(j)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

func metricFrom(j metricJSON) (Metric, error) {
	kind, err := usage.ParseKind(j.Kind)
	if err != nil {
		return Metric{}, err
	}
	agg, err := usage.ParseAggregation(j.Aggregation)
	if err != nil {
		return Metric{}, err
	}
	m := Metric{Definition: usage.Definition{Metric: j.Metric, Kind: kind, Aggregation: agg, Scale: j.Scale, Unit: j.Unit}, Meter: j.Meter}
	if err := m.Validate(); err != nil {
		return Metric{}, err
	}
	if m.Meter != "" && !stripeIDShaped(m.Meter) {
		return Metric{}, domain.Invalid("meter", "meter must be 1 to 100 letters, digits, - or _")
	}
	return m, nil
}
