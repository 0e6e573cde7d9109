package plans

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// Catalog is the plan catalog folded from the catalog stream over the default catalog:
// every version of every plan (tenants stay on the version they joined), which plans are
// retired, and the declared metrics. A Catalog handed to readers is never changed again
// (Clone, then Apply, then publish the clone), so lookups need no lock.
type Catalog struct {
	plans    map[domain.PlanName]*entry
	order    []domain.PlanName // first definition order
	metrics  map[usage.Metric]metricEntry
	morder   []usage.Metric
	streamV  int64
	defaults int // how many plans the default catalog holds
}

type entry struct {
	versions []Plan // versions[i].Version == i+1
	retired  bool
}

type metricEntry struct {
	metric  Metric
	version int
	retired bool
}

// Default is the catalog before any document is applied: free, pro and enterprise at
// version 1, billed monthly at the price the billing worker is configured with, with
// limits (domain.DefaultPlans, or the TENANTRY_PLAN_LIMITS overrides of it).
func Default(limits domain.Plans) *Catalog {
	c := &Catalog{plans: map[domain.PlanName]*entry{}, metrics: map[usage.Metric]metricEntry{}}
	names := map[domain.PlanName]string{domain.PlanFree: "Free", domain.PlanPro: "Pro", domain.PlanEnterprise: "Enterprise"}
	for _, key := range domain.PlanNames() {
		spec := Spec{Key: key, Name: names[key], Intervals: map[Interval]Price{Monthly: {}}, Limits: limits.Limits(key),
			Features: map[string]bool{}, Metrics: map[usage.Metric]Quota{}}
		c.plans[key] = &entry{versions: []Plan{{Spec: spec, Version: 1}}}
		c.order = append(c.order, key)
	}
	c.defaults = len(c.order)
	return c
}

// Clone returns a copy that Apply may change without touching c.
func (c *Catalog) Clone() *Catalog {
	out := *c
	out.plans = make(map[domain.PlanName]*entry, len(c.plans))
	for k, e := range c.plans {
		cp := *e
		cp.versions = slices.Clip(e.versions)
		out.plans[k] = &cp
	}
	out.order = slices.Clip(c.order)
	out.metrics = maps.Clone(c.metrics)
	out.morder = slices.Clip(c.morder)
	return &out
}

// StreamVersion is the version of the catalog stream folded so far (0: none).
func (c *Catalog) StreamVersion() int64 { return c.streamV }

// Apply folds one catalog event; the stream's next version is streamVersion+1.
func (c *Catalog) Apply(e domain.Event) error {
	switch ev := domain.Deref(e).(type) {
	case PlanDefined:
		en := c.plans[ev.Plan.Key]
		if en == nil {
			en = &entry{}
			c.plans[ev.Plan.Key] = en
			c.order = append(c.order, ev.Plan.Key)
		}
		if ev.Plan.Version != len(en.versions)+1 {
			return fmt.Errorf("apply %s: plan %s version %d follows version %d", TypePlanDefined, ev.Plan.Key, ev.Plan.Version, len(en.versions))
		}
		en.versions = append(en.versions, ev.Plan)
		en.retired = false
	case PlanRetired:
		en := c.plans[ev.Plan]
		if en == nil {
			return fmt.Errorf("apply %s: unknown plan %s", TypePlanRetired, ev.Plan)
		}
		en.retired = true
	case MetricDefined:
		if _, ok := c.metrics[ev.Metric.Metric]; !ok {
			c.morder = append(c.morder, ev.Metric.Metric)
		}
		c.metrics[ev.Metric.Metric] = metricEntry{metric: ev.Metric, version: ev.Version}
	case MetricRetired:
		me, ok := c.metrics[ev.Metric]
		if !ok {
			return fmt.Errorf("apply %s: unknown metric %s", TypeMetricRetired, ev.Metric)
		}
		me.retired = true
		c.metrics[ev.Metric] = me
	default:
		return fmt.Errorf("apply to the plan catalog: unknown event %T", e)
	}
	c.streamV++
	return nil
}

// Current answers a plan's current version; ok is false for an unknown or retired plan.
func (c *Catalog) Current(key domain.PlanName) (Plan, bool) {
	en := c.plans[key]
	if en == nil || en.retired {
		return Plan{}, false
	}
	return en.versions[len(en.versions)-1], true
}

// Version answers one version of a plan, retired or not.
func (c *Catalog) Version(key domain.PlanName, version int) (Plan, bool) {
	en := c.plans[key]
	if en == nil || version < 1 || version > len(en.versions) {
		return Plan{}, false
	}
	return en.versions[version-1], true
}

// Versions lists every version of a plan, oldest first; nil for an unknown plan.
func (c *Catalog) Versions(key domain.PlanName) []Plan {
	if en := c.plans[key]; en != nil {
		return slices.Clone(en.versions)
	}
	return nil
}

// Retired reports whether a known plan is retired.
func (c *Catalog) Retired(key domain.PlanName) bool {
	en := c.plans[key]
	return en != nil && en.retired
}

// Keys lists every plan ever defined, in the order they were first defined.
func (c *Catalog) Keys() []domain.PlanName { return slices.Clone(c.order) }

// Limits answers the limits of a plan version; the zero (invalid) Limits when the
// catalog does not know it.
func (c *Catalog) Limits(key domain.PlanName, version int) domain.Limits {
	p, ok := c.Version(key, version)
	if !ok {
		return domain.Limits{}
	}
	return p.Limits
}

// Metrics lists the declared metrics (not retired), in the order first declared.
func (c *Catalog) Metrics() []Metric {
	var out []Metric
	for _, m := range c.morder {
		if me := c.metrics[m]; !me.retired {
			out = append(out, me.metric)
		}
	}
	return out
}

// MetricVersion answers how often a metric was declared (0: never).
func (c *Catalog) MetricVersion(m usage.Metric) int { return c.metrics[m].version }

// Definition implements usage.Definitions: a declared metric's definition.
func (c *Catalog) Definition(m usage.Metric) (usage.Definition, bool) {
	me, ok := c.metrics[m]
	if !ok || me.retired {
		return usage.Definition{}, false
	}
	return me.metric.Definition, true
}

var _ usage.Definitions = (*Catalog)(nil)
