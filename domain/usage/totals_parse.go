package usage

import (
	"fmt"
	"time"
)

// ParsePeriodTotal builds a PeriodTotal from the write model's text (the event store's usage
// totals): the metric's name, and sum, max and last in ParseDecimal's form (max and last
// empty while the period has no reading).
func ParsePeriodTotal(metric string, period time.Time, sum, maxReading, last string, lastKey []byte) (PeriodTotal, error) {
	m, err := ParseMetric(metric)
	if err != nil {
		return PeriodTotal{}, err
	}
	w, err := ParseWindow(period, sum, maxReading, last, time.Time{}, 0, 0)
	if err != nil {
		return PeriodTotal{}, fmt.Errorf("usage totals of %s: %w", m, err)
	}
	return PeriodTotal{Metric: m, Period: period, Sum: w.Sum, Max: w.Max, Last: w.Last, LastKey: lastKey}, nil
}
