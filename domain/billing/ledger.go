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
	// Reported is the quantity Stripe confirmed, over every revision.
	Reported usage.Amount
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
		w.Reported, w.Revision, w.Confirmed, w.Pending = ev.Total, ev.Revision, ev.Identifier, nil
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
// (MaxMeterValue each at most). No events when nothing is new, or when a push of the
// window is still pending (it must be confirmed first).
func (l *Ledger) Plan(tenantID uuid.UUID, metric usage.Metric, start time.Time, recorded usage.Amount, eventName, customerID string) ([]domain.Event, error) {
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
	if delta.Cmp(maxRevision) > 0 {
		delta = maxRevision // the rest goes out as the next revision, in the next cycle
	}
	// ceil(delta / MaxMeterValue) parts; one is written as none (the encoding before parts).
	parts := new(big.Int).Add(delta.Big(), big.NewInt(MaxMeterValue-1))
	n := int(parts.Quo(parts, big.NewInt(MaxMeterValue)).Int64())
	if n == 1 {
		n = 0
	}
	return []domain.Event{UsageReportPlanned{Metric: metric, WindowStart: start, Revision: rev,
		Quantity: delta, Parts: n, EventName: eventName, CustomerID: customerID,
		Identifier: Identifier(tenantID, metric.String(), start, rev)}}, nil
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

// MeterEvent is one billing meter event of a planned push.
type MeterEvent struct {
	Identifier     string
	IdempotencyKey string
	Value          int64
}

// MeterEvents are the billing meter events that carry the push: one carrying the whole
// quantity under the revision's identifier and idempotency key, or Parts events that split
// it evenly (each at most MaxMeterValue), the first under the revision's identifier and
// key and the others under ones derived from them and the part's number. They depend only
// on the planned event, so a resend is the same requests, which Stripe counts once.
func (p UsageReportPlanned) MeterEvents(tenantID uuid.UUID) ([]MeterEvent, error) {
	key := IdempotencyKey(tenantID, p.Metric.String(), p.WindowStart, p.Revision)
	if p.Parts <= 1 {
		v, ok := p.Quantity.Int64()
		if !ok || v < 1 {
			return nil, fmt.Errorf("push %s carries %s units: not one meter event's value", p.Identifier, p.Quantity)
		}
		return []MeterEvent{{Identifier: p.Identifier, IdempotencyKey: key, Value: v}}, nil
	}
	if p.Parts > MaxParts {
		return nil, fmt.Errorf("push %s: %d parts, more than %d", p.Identifier, p.Parts, MaxParts)
	}
	values := p.Quantity.SplitEvenly(p.Parts)
	out := make([]MeterEvent, len(values))
	for i, v := range values {
		n, ok := v.Int64()
		if !ok || n < 1 || n > MaxMeterValue {
			return nil, fmt.Errorf("push %s: part %d of %d carries %s units", p.Identifier, i, p.Parts, v)
		}
		out[i] = MeterEvent{Identifier: PartIdentifier(p.Identifier, i), IdempotencyKey: PartIdempotencyKey(key, i), Value: n}
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
	return []domain.Event{UsageReported{Metric: p.Metric, WindowStart: p.WindowStart, Revision: p.Revision,
		Quantity: p.Quantity, Total: w.Reported.Add(p.Quantity), Identifier: p.Identifier}}, nil
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
