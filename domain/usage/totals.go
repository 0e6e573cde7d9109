package usage

import "time"

// PeriodTotal is one metric's usage in one quota period (a UTC month starting at Period):
// Sum of the quantities, the highest reading Max and the last one Last (by occurred_at, then
// seq, then record index, which LastKey orders).
type PeriodTotal struct {
	Metric  Metric
	Period  time.Time
	Sum     Decimal
	Max     Decimal
	Last    Decimal
	LastKey []byte
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
