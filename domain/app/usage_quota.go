package app

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

// UsageSums reads a tenant's usage totals of one quota period (the UTC month that starts
// at period): each metric's sum so far, exact decimal text; eventstore.Store implements it.
type UsageSums interface {
	UsageSums(ctx context.Context, tenant uuid.UUID, period time.Time) (map[string]string, error)
}

// hardQuotas is the hard quotas of one plan version, as one request's records need them.
// Which apply: the tenant's plan version from its credential, looked up in the catalog in
// memory; a metric whose quota is soft or overage is never refused (alerts and bills are
// elsewhere). A plan without hard quotas costs a lookup per record and nothing else.
type hardQuotas struct {
	plan    plans.Plan
	catalog *plans.Catalog
}

// quotasOf is the hard quotas of the plan version; none without a catalog or for a plan
// the catalog does not know (then nothing is refused).
func (u *RecordUsage) quotasOf(plan domain.PlanName, version int) hardQuotas {
	if u.catalog == nil || plan.IsZero() {
		return hardQuotas{}
	}
	cat := u.catalog.Current()
	p, ok := cat.Version(plan, version)
	if !ok {
		// A version another replica just defined: its plan's current one meanwhile.
		u.catalog.Poke()
		if p, ok = cat.Current(plan); !ok {
			return hardQuotas{}
		}
	}
	return hardQuotas{plan: p, catalog: cat}
}

// of is metric m's hard quota, and whether its records are readings (a gauge: the quota
// bounds each reading) rather than counts (the quota bounds the period's sum).
func (h hardQuotas) of(m usage.Metric) (included usage.Decimal, reading, ok bool) {
	q, found := h.plan.Metrics[m]
	if !found || q.Beyond != plans.BeyondHard {
		return usage.Decimal{}, false, false
	}
	def := usage.DefinitionOf(h.catalog, m)
	return q.Included.Usage(), def.Aggregation != usage.AggregationSum, true
}

// checkReadings refuses a request holding a gauge reading above its metric's hard quota:
// stateless, before anything is appended.
func (h hardQuotas) checkReadings(records []usage.Recorded) error {
	if len(h.plan.Metrics) == 0 {
		return nil
	}
	for _, r := range records {
		if inc, reading, ok := h.of(r.Metric); ok && reading && r.Quantity.Decimal().Cmp(inc) > 0 {
			return &domain.QuotaExceeded{Metric: r.Metric.String(), Period: usage.Period(r.OccurredAt),
				Quota: inc.String(), Reading: r.Quantity.Decimal().String()}
		}
	}
	return nil
}

// limit sets each counted delta's hard quota: the event store refuses the append that would
// take the period's sum beyond it, under the tenant's lock.
func (h hardQuotas) limit(deltas []domain.UsageDelta) {
	if len(h.plan.Metrics) == 0 {
		return
	}
	for i := range deltas {
		m, err := usage.ParseMetric(deltas[i].Metric)
		if err != nil {
			continue
		}
		if inc, reading, ok := h.of(m); ok && !reading {
			deltas[i].Quota = inc.String()
		}
	}
}

// fit decides which of the records at indexes fresh still fit their hard quotas, in
// arrival order, given the periods' sums now (re-read after the store refused an append
// of them all): a record that does not fit is refused (refused[i]), and a later, smaller
// one may still fit. It returns the fitting indexes.
func (u *RecordUsage) fit(ctx context.Context, tenant uuid.UUID, h hardQuotas, records []usage.Recorded, fresh []int, refused []error) ([]int, error) {
	type at struct {
		m usage.Metric
		p time.Time
	}
	sums := map[time.Time]map[string]string{}
	used := map[at]usage.Decimal{}
	kept := fresh[:0:0]
	for _, i := range fresh {
		r := records[i]
		inc, reading, ok := h.of(r.Metric)
		if !ok || reading {
			kept = append(kept, i)
			continue
		}
		p := usage.Period(r.OccurredAt)
		k := at{r.Metric, p}
		so, seen := used[k]
		if !seen {
			if sums[p] == nil {
				s, err := u.sums.UsageSums(ctx, tenant, p)
				if err != nil {
					return nil, err
				}
				sums[p] = s
			}
			so = usage.Decimal{}
			if t, ok := sums[p][r.Metric.String()]; ok {
				d, err := usage.ParseDecimal(t)
				if err != nil {
					return nil, err
				}
				so = d
			}
		}
		if next := so.Add(r.Quantity.Decimal()); next.Cmp(inc) <= 0 {
			used[k] = next
			kept = append(kept, i)
			continue
		}
		used[k] = so
		refused[i] = &domain.QuotaExceeded{Metric: r.Metric.String(), Period: p, Used: so.String(), Quota: inc.String()}
	}
	return kept, nil
}

// isQuota reports a refusal for a hard quota.
func isQuota(err error) bool {
	var q *domain.QuotaExceeded
	return errors.As(err, &q)
}
