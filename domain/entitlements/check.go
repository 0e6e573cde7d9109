package entitlements

import (
	"fmt"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

// Reason is why a check answered as it did: a stable machine code.
type Reason struct{ s string }

// The reasons.
var (
	// ReasonIncluded: the quantity fits in what is left of the included quota.
	ReasonIncluded = Reason{"included"}
	// ReasonNoQuota: the metric is declared but the plan sets no quota for it.
	ReasonNoQuota = Reason{"no_quota"}
	// ReasonSoftQuota: beyond the included amount of a soft quota: allowed, and alerted.
	ReasonSoftQuota = Reason{"soft_quota"}
	// ReasonOverage: beyond the included amount of an overage quota: allowed, and billed.
	ReasonOverage = Reason{"overage"}
	// ReasonQuotaExceeded: beyond the included amount of a hard quota: refused.
	ReasonQuotaExceeded = Reason{"quota_exceeded"}
	// ReasonFeatureEnabled and ReasonFeatureDisabled: the plan turns the feature on or off.
	ReasonFeatureEnabled  = Reason{"feature_enabled"}
	ReasonFeatureDisabled = Reason{"feature_disabled"}
	// ReasonNotInPlan: the plan does not name the feature.
	ReasonNotInPlan = Reason{"not_in_plan"}
)

// Reasons lists every reason (for documentation).
func Reasons() []Reason {
	return []Reason{ReasonIncluded, ReasonNoQuota, ReasonSoftQuota, ReasonOverage, ReasonQuotaExceeded,
		ReasonFeatureEnabled, ReasonFeatureDisabled, ReasonNotInPlan}
}

// String returns the reason's code.
func (r Reason) String() string { return r.s }

// Request is a validated check: a feature, or a quantity of a metric.
type Request struct {
	Feature  string
	Metric   usage.Metric
	Quantity usage.Quantity
}

// ParseRequest validates a check: exactly one of feature and metric; a metric needs a
// quantity (written as its definition's scale allows, usage.ParseQuantityScale) and must be
// declared by defs or metered by the plan, a feature takes none and must be shaped as
// the catalog's feature names are (a name the plan does not know is a valid question).
func ParseRequest(feature, metric, quantity string, plan plans.Plan, defs usage.Definitions) (Request, error) {
	switch {
	case feature == "" && metric == "":
		return Request{}, domain.Invalid("body", "send a feature, or a metric with a quantity")
	case feature != "" && metric != "":
		return Request{}, domain.Invalid("body", "send either a feature or a metric, not both")
	case feature != "":
		if quantity != "" {
			return Request{}, domain.Invalid("quantity", "a feature check takes no quantity")
		}
		if !domain.IsKey(feature) {
			return Request{}, domain.Invalid("feature", "feature must be 1 to 63 characters of lowercase letters, digits and underscores, starting with a letter")
		}
		return Request{Feature: feature}, nil
	}
	m, err := usage.ParseMetric(metric)
	if err != nil {
		return Request{}, err
	}
	d, declared := defs.Definition(m)
	if _, metered := plan.Metrics[m]; !declared && !metered {
		return Request{}, domain.Invalid("metric", "metric %q is not in the plan catalog", m)
	}
	if !declared {
		d = usage.DefaultDefinition(m)
	}
	if quantity == "" {
		return Request{}, domain.Invalid("quantity", "a metric check needs a quantity")
	}
	q, err := usage.ParseQuantityScale(quantity, d.Scale)
	if err != nil {
		return Request{}, err
	}
	return Request{Metric: m, Quantity: q}, nil
}

// Answer is a check's answer. Metric is set for a metered metric's check (its quota and
// usage before the quantity).
type Answer struct {
	Allowed bool
	Reason  Reason
	Message string
	Feature string
	Metric  *Metric
	Name    usage.Metric // the metric checked (also when the plan sets no quota for it)
}

// Check is Of(plan, defs, period, totals).Check(r) computing only the metric r asks about
// (the check sits on products' hot paths).
func Check(plan plans.Plan, defs usage.Definitions, period Period, totals Totals, r Request) Answer {
	l := List{Plan: plan, Period: period, Features: plan.Features}
	if q, ok := plan.Metrics[r.Metric]; ok && r.Feature == "" {
		l.Metrics = []Metric{metricOf(r.Metric, q, usage.DefinitionOf(defs, r.Metric), totals[r.Metric])}
	}
	return l.Check(r)
}

// Check answers r against the list: a feature is allowed when the plan turns it on; a
// quantity of a metric is allowed unless the metric's quota is hard and the quantity goes
// beyond the included amount (a counter: usage so far plus the quantity; a gauge: the
// quantity itself, a reading of the level).
func (l List) Check(r Request) Answer {
	if r.Feature != "" {
		on, named := l.Features[r.Feature]
		switch {
		case !named:
			return Answer{Reason: ReasonNotInPlan, Feature: r.Feature,
				Message: fmt.Sprintf("plan %s (version %d) has no feature %q", l.Plan.Key, l.Plan.Version, r.Feature)}
		case !on:
			return Answer{Reason: ReasonFeatureDisabled, Feature: r.Feature,
				Message: fmt.Sprintf("plan %s (version %d) turns feature %q off", l.Plan.Key, l.Plan.Version, r.Feature)}
		}
		return Answer{Allowed: true, Reason: ReasonFeatureEnabled, Feature: r.Feature,
			Message: fmt.Sprintf("plan %s (version %d) turns feature %q on", l.Plan.Key, l.Plan.Version, r.Feature)}
	}
	m, ok := l.Metric(r.Metric)
	if !ok {
		return Answer{Allowed: true, Reason: ReasonNoQuota, Name: r.Metric,
			Message: fmt.Sprintf("plan %s (version %d) sets no quota for %s", l.Plan.Key, l.Plan.Version, r.Metric)}
	}
	a := Answer{Allowed: true, Reason: ReasonIncluded, Metric: &m, Name: r.Metric}
	after := r.Quantity.Decimal()
	if m.Definition.Kind != usage.KindGauge {
		after = m.Usage.Add(after)
	}
	included := m.Quota.Included.Usage()
	verb, outcome := " fits in", ""
	if after.Cmp(included) > 0 {
		verb = " goes beyond"
		switch m.Quota.Beyond {
		case plans.BeyondHard:
			a.Allowed, a.Reason, outcome = false, ReasonQuotaExceeded, ": the quota is hard, refused"
		case plans.BeyondSoft:
			a.Reason, outcome = ReasonSoftQuota, ": the quota is soft, allowed and alerted"
		default:
			a.Reason, outcome = ReasonOverage, ": allowed, the overage is billed"
		}
	}
	// One concatenation rather than fmt.Sprintf: the check sits on products' hot paths.
	a.Message = r.Quantity.String() + " of " + r.Metric.String() + verb + " the included " + included.String() +
		" (" + m.Usage.String() + " used this period)" + outcome
	return a
}
