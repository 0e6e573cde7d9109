package plans

import (
	"github.com/tenantry/tenantry/domain"
)

// Change statuses in a Diff.
const (
	Added     = "added"
	Changed   = "changed"
	Unchanged = "unchanged"
	Retired   = "retired"
)

// Change is what applying a document does to one plan or metric. Version is the version
// it is at afterwards (for a retired plan, its last version).
type Change struct {
	Key     string `json:"key"`
	Status  string `json:"status"`
	Version int    `json:"version"`
}

// Diff is the difference a document makes to a catalog: every plan and metric of either,
// the document's in its order, then those the document drops.
type Diff struct {
	Plans   []Change `json:"plans"`
	Metrics []Change `json:"metrics"`
}

// Changes reports whether the diff changes anything.
func (d Diff) Changes() bool {
	for _, c := range append(append([]Change(nil), d.Plans...), d.Metrics...) {
		if c.Status != Unchanged {
			return true
		}
	}
	return false
}

// Decide compares a validated document with the catalog and answers the difference and
// the events that make the catalog equal to the document: a plan whose definition
// differs from its current version (or that is retired) gets a new version; an equal one
// gets nothing, so applying the same document twice decides no events the second time;
// a plan or metric the document leaves out is retired. Metrics come first, so every plan
// event follows the declarations it relies on.
func (c *Catalog) Decide(defs Definitions) (Diff, []domain.Event) {
	var diff Diff
	var events []domain.Event
	inDoc := map[string]bool{}
	for _, m := range defs.Metrics {
		inDoc[m.Metric.String()] = true
		me, ok := c.metrics[m.Metric]
		switch {
		case !ok:
			diff.Metrics = append(diff.Metrics, Change{Key: m.Metric.String(), Status: Added, Version: 1})
			events = append(events, MetricDefined{Metric: m, Version: 1})
		case me.retired || me.metric != m:
			diff.Metrics = append(diff.Metrics, Change{Key: m.Metric.String(), Status: Changed, Version: me.version + 1})
			events = append(events, MetricDefined{Metric: m, Version: me.version + 1})
		default:
			diff.Metrics = append(diff.Metrics, Change{Key: m.Metric.String(), Status: Unchanged, Version: me.version})
		}
	}
	for _, m := range c.morder {
		if me := c.metrics[m]; !me.retired && !inDoc[m.String()] {
			diff.Metrics = append(diff.Metrics, Change{Key: m.String(), Status: Retired, Version: me.version})
			events = append(events, MetricRetired{Metric: m})
		}
	}
	inDoc = map[string]bool{}
	for _, s := range defs.Plans {
		inDoc[s.Key.String()] = true
		en := c.plans[s.Key]
		switch {
		case en == nil:
			diff.Plans = append(diff.Plans, Change{Key: s.Key.String(), Status: Added, Version: 1})
			events = append(events, PlanDefined{Plan: Plan{Spec: s, Version: 1}})
		case en.retired || !en.versions[len(en.versions)-1].Spec.Equal(s):
			v := len(en.versions) + 1
			diff.Plans = append(diff.Plans, Change{Key: s.Key.String(), Status: Changed, Version: v})
			events = append(events, PlanDefined{Plan: Plan{Spec: s, Version: v}})
		default:
			diff.Plans = append(diff.Plans, Change{Key: s.Key.String(), Status: Unchanged, Version: len(en.versions)})
		}
	}
	for _, k := range c.order {
		if en := c.plans[k]; !en.retired && !inDoc[k.String()] {
			v := len(en.versions)
			diff.Plans = append(diff.Plans, Change{Key: k.String(), Status: Retired, Version: v})
			events = append(events, PlanRetired{Plan: k, Version: v})
		}
	}
	return diff, events
}
