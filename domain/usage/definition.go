package usage

import (
	"github.com/tenantry/tenantry/domain"
)

// Kind says what a metric's records mean: a counter's records are amounts used (they
// add up), a gauge's records are readings of a level at a moment (storage in use, seats).
type Kind struct{ s string }

// The metric kinds.
var (
	KindCounter = Kind{"counter"}
	KindGauge   = Kind{"gauge"}
)

// ParseKind accepts "counter" or "gauge".
func ParseKind(s string) (Kind, error) {
	switch s {
	case KindCounter.s:
		return KindCounter, nil
	case KindGauge.s:
		return KindGauge, nil
	}
	return Kind{}, domain.Invalid("kind", "kind must be counter or gauge")
}

// String returns the kind's name; empty for the zero value.
func (k Kind) String() string { return k.s }

// Aggregation says how a billing period's records become the billed value: a counter's
// are summed; a gauge's billed value is its highest reading in the period (max) or its
// latest one by occurred_at (last).
type Aggregation struct{ s string }

// The aggregations.
var (
	AggregationSum  = Aggregation{"sum"}
	AggregationMax  = Aggregation{"max"}
	AggregationLast = Aggregation{"last"}
)

// ParseAggregation accepts "sum", "max" or "last".
func ParseAggregation(s string) (Aggregation, error) {
	switch s {
	case AggregationSum.s:
		return AggregationSum, nil
	case AggregationMax.s:
		return AggregationMax, nil
	case AggregationLast.s:
		return AggregationLast, nil
	}
	return Aggregation{}, domain.Invalid("aggregation", "aggregation must be sum, max or last")
}

// String returns the aggregation's name; empty for the zero value.
func (a Aggregation) String() string { return a.s }

// MaxScale is the most decimal places a metric may allow.
const MaxScale = 6

// Definition is what the operator declares about a metric. A metric nobody declared is
// DefaultDefinition: a counter of whole units, as every metric was before definitions.
type Definition struct {
	Metric      Metric
	Kind        Kind
	Aggregation Aggregation
	// Scale is how many decimal places a record's quantity may carry (0 to MaxScale).
	// Quantities are exact decimals, never floating point.
	Scale int
	// Unit is shown to people ("GB", "calls"); it has no effect on arithmetic.
	Unit string
}

// DefaultDefinition is the definition of an undeclared metric m.
func DefaultDefinition(m Metric) Definition {
	return Definition{Metric: m, Kind: KindCounter, Aggregation: AggregationSum}
}

// Validate reports the first thing wrong with d: a counter is summed; a gauge is billed
// by max or last; the scale lies within 0 to MaxScale.
func (d Definition) Validate() error {
	switch {
	case d.Metric.IsZero():
		return domain.Invalid("metric", "metric is required")
	case d.Kind == KindCounter && d.Aggregation != AggregationSum:
		return domain.Invalid("aggregation", "a counter's aggregation must be sum")
	case d.Kind == KindGauge && d.Aggregation != AggregationMax && d.Aggregation != AggregationLast:
		return domain.Invalid("aggregation", "a gauge's aggregation must be max or last")
	case d.Kind != KindCounter && d.Kind != KindGauge:
		return domain.Invalid("kind", "kind must be counter or gauge")
	case d.Scale < 0 || d.Scale > MaxScale:
		return domain.Invalid("scale", "scale must be between 0 and 6")
	case len(d.Unit) > 32:
		return domain.Invalid("unit", "unit may be at most 32 bytes")
	}
	return nil
}

// Definitions answers a metric's definition; ok is false for an undeclared metric (whose
// definition is DefaultDefinition). Implementations are safe for concurrent use and
// always answer from memory (they sit on the ingestion path).
type Definitions interface {
	Definition(m Metric) (d Definition, ok bool)
}

// StaticDefinitions is a fixed set of definitions, by metric.
type StaticDefinitions map[Metric]Definition

// Definition implements Definitions.
func (s StaticDefinitions) Definition(m Metric) (Definition, bool) {
	d, ok := s[m]
	return d, ok
}
