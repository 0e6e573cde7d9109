package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// WindowKey names one usage window of one metric.
type WindowKey struct {
	Metric string
	Start  time.Time
}

// WindowState is what the ledger says about one window.
type WindowState struct {
	// Reported is the quantity Stripe confirmed, over every revision (for a gauge billed
	// by its last reading: the value of the last confirmed revision).
	Reported usage.Decimal
	// At is the meter event timestamp of the last confirmed revision of a gauge.
	At time.Time
	// Revision is the last confirmed revision; 0 before the first push.
	Revision int
	// Confirmed is the identifier of the last confirmed revision.
	Confirmed string
	// Pending is a planned push not yet confirmed, to be sent again as it is.
	Pending *UsageReportPlanned
}

// Ledger is the state folded from one month's usage ledger stream (see LedgerStreamID).
type Ledger struct {
	windows map[WindowKey]*WindowState
	version int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{windows: map[WindowKey]*WindowState{}} }

func (l *Ledger) window(metric usage.Metric, start time.Time) *WindowState {
	k := WindowKey{Metric: metric.String(), Start: start.UTC()}
	w := l.windows[k]
	if w == nil {
		w = &WindowState{}
		l.windows[k] = w
	}
	return w
}

// Apply folds one event into the ledger.
func (l *Ledger) Apply(e domain.Event) error {
	switch ev := domain.Deref(e).(type) {
	case UsageReportPlanned:
		w := l.window(ev.Metric, ev.WindowStart)
		if ev.Revision != w.Revision+1 || w.Pending != nil {
			return fmt.Errorf("ledger: revision %d of %s %s planned after revision %d", ev.Revision, ev.Metric, ev.WindowStart, w.Revision)
		}
		p := ev
		w.Pending = &p
	case UsageReported:
		w := l.window(ev.Metric, ev.WindowStart)
		if w.Pending == nil || w.Pending.Identifier != ev.Identifier {
			return fmt.Errorf("ledger: %s reported without being planned", ev.Identifier)
		}
		w.Reported, w.Revision, w.Confirmed, w.At, w.Pending = ev.Total, ev.Revision, ev.Identifier, w.Pending.At, nil
	default:
		return fmt.Errorf("apply to usage ledger: unknown event %T", e)
	}
	l.version++
	return nil
}

// Version returns how many events have been applied.
func (l *Ledger) Version() int { return l.version }

// Window returns the state of one window (zero when never pushed).
func (l *Ledger) Window(metric string, start time.Time) WindowState {
	if w := l.windows[WindowKey{Metric: metric, Start: start.UTC()}]; w != nil {
		return *w
	}
	return WindowState{}
}

// Windows returns every window the ledger knows, ordered by start then metric.
func (l *Ledger) Windows() []WindowKey {
	keys := make([]WindowKey, 0, len(l.windows))
	for k := range l.windows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].Start.Equal(keys[j].Start) {
			return keys[i].Start.Before(keys[j].Start)
		}
		return keys[i].Metric < keys[j].Metric
	})
	return keys
}

// Pending returns the planned pushes not yet confirmed, in window order.
func (l *Ledger) Pending() []UsageReportPlanned {
	var out []UsageReportPlanned
	for _, k := range l.Windows() {
		if p := l.windows[k].Pending; p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// Plan decides the next push of a window whose recorded usage totals recorded: the delta
// since what Stripe was told, as the next revision, in as many meter events as it takes
// (MaxMeterValue units of the delta's last decimal place each at most). No events when
// nothing is new, or when a push of the window is still pending (it must be confirmed
// first).
func (l *Ledger) Plan(tenantID uuid.UUID, metric usage.Metric, start time.Time, recorded usage.Decimal, eventName, customerID string) ([]domain.Event, error) {
	if metric.IsZero() || eventName == "" || customerID == "" {
		return nil, domain.Invalid("metric", "metric, meter event name and customer are required")
	}
	start = start.UTC()
	if !start.Equal(start.Truncate(Window)) {
		return nil, domain.Invalid("window_start", "a window starts on the hour")
	}
	w := l.Window(metric.String(), start)
	if w.Pending != nil || recorded.Cmp(w.Reported) <= 0 {
		return nil, nil
	}
	if w.Reported.Sign() < 0 {
		return nil, domain.Invalid("quantity", "window %s of %s: a negative reported total", start.Format(time.RFC3339), metric)
	}
	rev := w.Revision + 1
	delta := recorded.Sub(w.Reported)
	scale := delta.Scale()
	units, _ := delta.Units(scale)
	if units.Cmp(maxRevision) > 0 {
		units = maxRevision // the rest goes out as the next revision, in the next cycle
		delta = usage.NewDecimal(units, scale)
	}
	// ceil(units / MaxMeterValue) parts; one is written as none (the encoding before parts).
	parts := new(big.Int).Add(units.Big(), big.NewInt(MaxMeterValue-1))
	n := int(parts.Quo(parts, big.NewInt(MaxMeterValue)).Int64())
	if n == 1 {
		n = 0
	}
	return []domain.Event{UsageReportPlanned{Metric: metric, WindowStart: start, Revision: rev,
		Quantity: delta, Parts: n, EventName: eventName, CustomerID: customerID,
		Identifier: Identifier(tenantID, metric.String(), start, rev)}}, nil
}

// Period is the billing period of a gauge: the UTC calendar month that holds t.
func Period(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// PlanGauge decides the next push of a gauge's billing period (Period; its ledger window
// is keyed by the period's start) whose value so far is value, the gauge's highest or
// last reading in the period, read at at:
//
//   - max, on a Stripe meter that sums: the increase of the period's maximum since what
//     Stripe was told, so the meter's sum over the period is exactly the maximum (a
//     maximum never falls, so there is never anything to take back);
//   - last, on a Stripe meter whose formula is last: the value itself, whenever it differs
//     from the last one told, as one meter event whose timestamp is at (whole seconds),
//     moved past the previous revision's so the newest revision is the meter's last event.
//
// No events when nothing changed or a push of the period is pending. The value of a last
// push must fit one meter event (MaxMeterValue units of its last decimal place).
func (l *Ledger) PlanGauge(tenantID uuid.UUID, metric usage.Metric, agg usage.Aggregation, period time.Time, value usage.Decimal, at time.Time, eventName, customerID string) ([]domain.Event, error) {
	period = period.UTC()
	if !period.Equal(Period(period)) {
		return nil, domain.Invalid("window_start", "a gauge's period starts on the first of a month (UTC)")
	}
	switch agg {
	case usage.AggregationMax:
		events, err := l.Plan(tenantID, metric, period, value, eventName, customerID)
		for i := range events {
			p := events[i].(UsageReportPlanned)
			p.Aggregation, p.At = agg.String(), clampPeriod(at, period)
			events[i] = p
		}
		return events, err
	case usage.AggregationLast:
	default:
		return nil, domain.Invalid("aggregation", "a gauge is billed by max or last")
	}
	if metric.IsZero() || eventName == "" || customerID == "" {
		return nil, domain.Invalid("metric", "metric, meter event name and customer are required")
	}
	w := l.Window(metric.String(), period)
	if w.Pending != nil || w.Revision > 0 && value.Equal(w.Reported) {
		return nil, nil
	}
	if units, _ := value.Units(value.Scale()); value.Sign() <= 0 || units.Cmp(usage.AmountOf(MaxMeterValue)) > 0 {
		return nil, domain.LimitExceeded("quantity", "gauge %s: %s is not one meter event's value", metric, value)
	}
	ts := clampPeriod(at, period).Truncate(time.Second)
	if w.Revision > 0 && !ts.After(w.At) {
		ts = w.At.Add(time.Second)
	}
	rev := w.Revision + 1
	return []domain.Event{UsageReportPlanned{Metric: metric, WindowStart: period, Revision: rev, Quantity: value,
		EventName: eventName, CustomerID: customerID, Identifier: Identifier(tenantID, metric.String(), period, rev),
		Aggregation: agg.String(), At: ts}}, nil
}

// clampPeriod keeps a timestamp within the period that starts at period.
func clampPeriod(at, period time.Time) time.Time {
	at = at.UTC()
	if at.Before(period) {
		return period
	}
	if end := period.AddDate(0, 1, 0).Add(-time.Second); at.After(end) {
		return end
	}
	return at
}

// MaxMeterValue is the most one billing meter event carries: 999,999,999,999,999, the
// largest value of 15 significant digits. Stripe keeps a meter event's value as a double
// (exact up to 2^53) and refuses values of more than 15 significant digits (API
// 2026-04-22 on), so a larger value would be rounded or refused; a revision whose delta is
// larger goes out as several meter events (see UsageReportPlanned.MeterEvents).
const MaxMeterValue int64 = 999_999_999_999_999

// MaxParts bounds the meter events of one revision (and so the memory and the time one push
// takes): 10,000 of them carry about 10^19 units, more than an int64 holds. A larger delta
// goes out as several revisions, one per push cycle; nothing is left out.
const MaxParts = 10_000

// maxRevision is the most one revision carries: MaxParts full meter events.
var maxRevision = usage.AmountFromBig(new(big.Int).Mul(big.NewInt(MaxParts), big.NewInt(MaxMeterValue)))

// MeterEvent is one billing meter event of a planned push. Value is an exact decimal of at
// most 15 significant digits (MaxMeterValue units of its last place).
type MeterEvent struct {
	Identifier     string
	IdempotencyKey string
	Value          usage.Decimal
}

// MeterEvents are the billing meter events that carry the push: one carrying the whole
// quantity under the revision's identifier and idempotency key, or Parts events that split
// it evenly (each at most MaxMeterValue), the first under the revision's identifier and
// key and the others under ones derived from them and the part's number. They depend only
// on the planned event, so a resend is the same requests, which Stripe counts once.
func (p UsageReportPlanned) MeterEvents(tenantID uuid.UUID) ([]MeterEvent, error) {
	key := IdempotencyKey(tenantID, p.Metric.String(), p.WindowStart, p.Revision)
	scale := p.Quantity.Scale()
	units, _ := p.Quantity.Units(scale)
	if p.Parts <= 1 {
		v, ok := units.Int64()
		if !ok || v < 1 || v > MaxMeterValue {
			return nil, fmt.Errorf("push %s carries %s: not one meter event's value", p.Identifier, p.Quantity)
		}
		return []MeterEvent{{Identifier: p.Identifier, IdempotencyKey: key, Value: p.Quantity}}, nil
	}
	if p.Parts > MaxParts || p.Aggregation == usage.AggregationLast.String() {
		return nil, fmt.Errorf("push %s: %d parts, more than %d (or of a last value)", p.Identifier, p.Parts, MaxParts)
	}
	values := units.SplitEvenly(p.Parts)
	out := make([]MeterEvent, len(values))
	for i, v := range values {
		n, ok := v.Int64()
		if !ok || n < 1 || n > MaxMeterValue {
			return nil, fmt.Errorf("push %s: part %d of %d carries %s units", p.Identifier, i, p.Parts, v)
		}
		out[i] = MeterEvent{Identifier: PartIdentifier(p.Identifier, i), IdempotencyKey: PartIdempotencyKey(key, i),
			Value: usage.NewDecimal(v, scale)}
	}
	return out, nil
}

// Confirm records that Stripe accepted the pending push with identifier.
func (l *Ledger) Confirm(metric usage.Metric, start time.Time, identifier string) ([]domain.Event, error) {
	w := l.Window(metric.String(), start)
	if w.Pending == nil || w.Pending.Identifier != identifier {
		if w.Pending == nil && w.Confirmed == identifier {
			return nil, nil // confirmed already: a retried confirmation changes nothing
		}
		return nil, domain.Conflict("no pending push %s", identifier)
	}
	p := w.Pending
	total := w.Reported.Add(p.Quantity)
	if p.Aggregation == usage.AggregationLast.String() {
		total = p.Quantity // the meter keeps the last value, not a sum
	}
	return []domain.Event{UsageReported{Metric: p.Metric, WindowStart: p.WindowStart, Revision: p.Revision,
		Quantity: p.Quantity, Total: total, Identifier: p.Identifier}}, nil
}

// identifierNamespace versions the derivation of meter event identifiers.
const identifierNamespace = "tenantry/meter-event/v1"

// Identifier is the meter event identifier of one revision of one window: the same inputs
// give the same identifier on every run and every replica, and Stripe refuses a second
// event with it. 43 characters, within Stripe's limit of 100.
func Identifier(tenantID uuid.UUID, metric string, start time.Time, revision int) string {
	h := sha256.New()
	h.Write([]byte(identifierNamespace))
	h.Write(tenantID[:])
	h.Write([]byte(strconv.Itoa(len(metric))))
	h.Write([]byte{':'})
	h.Write([]byte(metric))
	h.Write([]byte(strconv.FormatInt(start.UTC().Unix(), 10)))
	h.Write([]byte{':'})
	h.Write([]byte(strconv.Itoa(revision)))
	return "tm_" + hex.EncodeToString(h.Sum(nil)[:20])
}

// IdempotencyKey is the Stripe idempotency key of one revision of one window, readable in
// Stripe's request logs: tenant, metric, window (Unix seconds) and revision.
func IdempotencyKey(tenantID uuid.UUID, metric string, start time.Time, revision int) string {
	return fmt.Sprintf("tenantry:meter:%s:%s:%d:r%d", tenantID, metric, start.UTC().Unix(), revision)
}

// partNamespace versions the derivation of a part's meter event identifier.
const partNamespace = "tenantry/meter-event-part/v1"

// PartIdentifier is the meter event identifier of part i (from 0) of a revision whose
// identifier is revision: the revision's own for part 0, otherwise derived from it and i
// (43 characters, like Identifier's).
func PartIdentifier(revision string, i int) string {
	if i == 0 {
		return revision
	}
	h := sha256.New()
	h.Write([]byte(partNamespace))
	h.Write([]byte(revision))
	h.Write([]byte{':'})
	h.Write([]byte(strconv.Itoa(i)))
	return "tm_" + hex.EncodeToString(h.Sum(nil)[:20])
}

// PartIdempotencyKey is the Stripe idempotency key of part i (from 0) of a revision whose
// key is key: key itself for part 0, key + ":p<i>" otherwise.
func PartIdempotencyKey(key string, i int) string {
	if i == 0 {
		return key
	}
	return key + ":p" + strconv.Itoa(i)
}
