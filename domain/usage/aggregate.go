package usage

import "time"

// Window is what the usage read model keeps of one metric over one window (an hour, a
// day): the sum of its records, the highest reading and the last reading by (occurred_at,
// seq, index in the event). It holds all three for every metric; a Definition picks one.
type Window struct {
	Start time.Time
	Sum   Decimal
	// Max and Last are zero (and HasReadings false) for windows stored before they were kept.
	Max         Decimal
	Last        Decimal
	LastAt      time.Time
	LastSeq     int64
	LastIdx     int32
	HasReadings bool
}

// after reports whether w's last reading comes after o's.
func (w Window) after(o Window) bool {
	switch {
	case !w.LastAt.Equal(o.LastAt):
		return w.LastAt.After(o.LastAt)
	case w.LastSeq != o.LastSeq:
		return w.LastSeq > o.LastSeq
	}
	return w.LastIdx > o.LastIdx
}

// Value is the value of windows (one metric's, any order) under d: a counter's sum, a
// gauge's highest reading (max) or its last reading by occurred_at (last; a tie goes to
// the later event, then the later record in it). ok is false when there is nothing to
// aggregate: no windows, or a gauge whose windows have no readings.
func (d Definition) Value(windows []Window) (v Decimal, ok bool) {
	v, _, ok = d.ValueAt(windows)
	return v, ok
}

// ValueAt is Value and when it was reached: a gauge's last reading's occurred_at (last),
// the start of the first window holding its highest reading (max), a counter's latest
// window start.
func (d Definition) ValueAt(windows []Window) (v Decimal, at time.Time, ok bool) {
	if d.Kind != KindGauge {
		for _, w := range windows {
			v = v.Add(w.Sum)
			if w.Start.After(at) {
				at = w.Start
			}
		}
		return v, at, len(windows) > 0
	}
	var best Window
	for _, w := range windows {
		if !w.HasReadings {
			continue
		}
		switch {
		case !ok:
			best, ok = w, true
		case d.Aggregation == AggregationMax && (w.Max.Cmp(best.Max) > 0 || w.Max.Equal(best.Max) && w.Start.Before(best.Start)):
			best = w
		case d.Aggregation == AggregationLast && w.after(best):
			best = w
		}
	}
	switch {
	case !ok:
		return Decimal{}, time.Time{}, false
	case d.Aggregation == AggregationMax:
		return best.Max, best.Start, true
	}
	return best.Last, best.LastAt, true
}

// DefinitionOf returns m's definition under defs: its declared one, or DefaultDefinition
// when defs is nil or does not declare it.
func DefinitionOf(defs Definitions, m Metric) Definition {
	if defs != nil {
		if d, ok := defs.Definition(m); ok {
			return d
		}
	}
	return DefaultDefinition(m)
}

// ParseWindow builds a Window from a read model's text: sum, and max and last (both empty
// for a window stored before readings were kept) in ParseDecimal's form.
func ParseWindow(start time.Time, sum, maxReading, last string, lastAt time.Time, lastSeq int64, lastIdx int32) (Window, error) {
	w := Window{Start: start, LastAt: lastAt, LastSeq: lastSeq, LastIdx: lastIdx}
	var err error
	if w.Sum, err = ParseDecimal(sum); err != nil {
		return Window{}, err
	}
	if maxReading == "" || last == "" {
		return w, nil
	}
	if w.Max, err = ParseDecimal(maxReading); err != nil {
		return Window{}, err
	}
	if w.Last, err = ParseDecimal(last); err != nil {
		return Window{}, err
	}
	w.HasReadings = true
	return w, nil
}
