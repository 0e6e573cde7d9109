// Package entitlements answers what a tenant's plan version allows it now: its features,
// and per metered metric the quota, the usage so far in the current quota period (a UTC
// calendar month) and what is left. It is pure: the plan, the metric definitions and the
// period's usage totals come in, the list or a check's answer goes out, so the answer
// served from memory and one recomputed from a replay of the events are the same function.
package entitlements

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

// Period is a quota period: [Start, End), a UTC calendar month.
type Period struct {
	Start time.Time
	End   time.Time
}

// PeriodOf is the quota period t falls in (billing.Period's month).
func PeriodOf(t time.Time) Period {
	start := billing.Period(t)
	return Period{Start: start, End: start.AddDate(0, 1, 0)}
}

// Contains reports whether t lies in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// Totals is a period's usage by metric (usage.FoldPeriod's totals, as the event store keeps
// them); a metric without records is absent. A metric's usage is PeriodTotal.Used by its
// aggregation: a counter's sum, a gauge's highest or last reading (0 before any reading).
type Totals map[usage.Metric]usage.PeriodTotal

// Metric is one metered metric of the plan: its definition, quota, usage in the period,
// what is left of the included amount (never below 0), and whether usage is beyond it.
type Metric struct {
	Definition usage.Definition
	Quota      plans.Quota
	Usage      usage.Decimal
	Remaining  usage.Decimal
	Exceeded   bool
}

// List is a tenant's entitlements in one period.
type List struct {
	Plan     plans.Plan
	Period   Period
	Features map[string]bool
	Metrics  []Metric // by metric name
}

// Of lists plan's entitlements in period given that period's usage totals; defs defines
// the metrics (an undeclared one is usage.DefaultDefinition's counter).
func Of(plan plans.Plan, defs usage.Definitions, period Period, totals Totals) List {
	l := List{Plan: plan, Period: period, Features: maps.Clone(plan.Features)}
	if l.Features == nil {
		l.Features = map[string]bool{}
	}
	for _, m := range slices.SortedFunc(maps.Keys(plan.Metrics), func(a, b usage.Metric) int {
		return cmp.Compare(a.String(), b.String())
	}) {
		l.Metrics = append(l.Metrics, metricOf(m, plan.Metrics[m], usage.DefinitionOf(defs, m), totals[m]))
	}
	return l
}

func metricOf(m usage.Metric, q plans.Quota, d usage.Definition, t usage.PeriodTotal) Metric {
	used := t.Used(d.Aggregation)
	included := q.Included.Usage()
	rem := included.Sub(used)
	if rem.Sign() < 0 {
		rem = usage.Decimal{}
	}
	d.Metric = m
	return Metric{Definition: d, Quota: q, Usage: used, Remaining: rem, Exceeded: used.Cmp(included) > 0}
}

// Metric returns the list's entry of metric m; ok is false when the plan has no quota for it.
func (l List) Metric(m usage.Metric) (Metric, bool) {
	i, ok := slices.BinarySearchFunc(l.Metrics, m, func(e Metric, m usage.Metric) int {
		return cmp.Compare(e.Definition.Metric.String(), m.String())
	})
	if !ok {
		return Metric{}, false
	}
	return l.Metrics[i], true
}
