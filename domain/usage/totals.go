package usage

import (
	"bytes"
	"sort"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// Period is the quota period t falls in: the first instant of its calendar month in UTC
// (billing.Period, which this package cannot import).
func Period(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// LastKey is the position of a usage reading as the totals and read models order them
// (domain.UsageLastKey: occurred_at, the event's seq, the record's index in the event).
func LastKey(at time.Time, seq int64, idx int32) []byte { return domain.UsageLastKey(at, seq, idx) }

// PeriodTotal is one metric's usage in one quota period: Sum the quantities added up, Max
// the highest reading, Last the last one by LastKey (LastKey's bytes).
type PeriodTotal struct {
	Metric  Metric
	Period  time.Time
	Sum     Decimal
	Max     Decimal
	Last    Decimal
	LastKey []byte
}

// add folds the record at (seq, idx) into t.
func (t *PeriodTotal) add(r Recorded, seq int64, idx int32) {
	q := r.Quantity.Decimal()
	key := LastKey(r.OccurredAt, seq, idx)
	t.Sum = t.Sum.Add(q)
	if t.LastKey == nil || q.Cmp(t.Max) > 0 {
		t.Max = q
	}
	if t.LastKey == nil || bytes.Compare(key, t.LastKey) > 0 {
		t.Last, t.LastKey = q, key
	}
}

// Event is a stored event's usage records with the event's seq (FoldPeriod's input).
type Event struct {
	Seq     int64
	Records []Recorded
}

// FoldPeriod is what the usage totals hold for period (a Period) after events: per metric
// of the records that occurred in the period, sorted by metric. It is the definition the
// event store's totals (tenantry.usage_totals) are tested against.
func FoldPeriod(period time.Time, events ...Event) []PeriodTotal {
	by := map[Metric]*PeriodTotal{}
	for _, e := range events {
		for i, r := range e.Records {
			if !Period(r.OccurredAt).Equal(period) {
				continue
			}
			t := by[r.Metric]
			if t == nil {
				t = &PeriodTotal{Metric: r.Metric, Period: period}
				by[r.Metric] = t
			}
			t.add(r, e.Seq, int32(i))
		}
	}
	out := make([]PeriodTotal, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metric.String() < out[j].Metric.String() })
	return out
}

// Deltas is what an event holding records adds to its tenant's usage totals: one
// domain.UsageDelta per metric and period, in order of first appearance, without quotas
// (the use case sets those). The event's seq is not known yet: the event store completes
// each delta's last key with it.
func Deltas(records []Recorded) []domain.UsageDelta {
	type at struct {
		m Metric
		p time.Time
	}
	var out []domain.UsageDelta
	var totals []PeriodTotal
	var lastAt []time.Time
	var lastIdx []int32
	index := make(map[at]int, 1)
	for i, r := range records {
		p := Period(r.OccurredAt)
		j, ok := index[at{r.Metric, p}]
		if !ok {
			j = len(totals)
			index[at{r.Metric, p}] = j
			totals = append(totals, PeriodTotal{Metric: r.Metric, Period: p})
			lastAt, lastIdx = append(lastAt, time.Time{}), append(lastIdx, 0)
		}
		before := totals[j].LastKey
		totals[j].add(r, 0, int32(i))
		if !bytes.Equal(before, totals[j].LastKey) {
			lastAt[j], lastIdx[j] = r.OccurredAt, int32(i)
		}
	}
	for j, t := range totals {
		out = append(out, domain.UsageDelta{Metric: t.Metric.String(), Period: t.Period, Sum: t.Sum.String(),
			Max: t.Max.String(), Last: t.Last.String(), LastAt: lastAt[j], LastIndex: lastIdx[j]})
	}
	return out
}

// Used is what the period counts of the metric by its aggregation: the sum for counters, the
// highest or the last reading for gauges.
func (t PeriodTotal) Used(agg Aggregation) Decimal {
	switch agg {
	case AggregationMax:
		return t.Max
	case AggregationLast:
		return t.Last
	}
	return t.Sum
}
