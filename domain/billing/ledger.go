package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	Reported int64
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
// since what Stripe was told, as the next revision. No events when nothing is new, or when
// a push of the window is still pending (it must be confirmed first).
func (l *Ledger) Plan(tenantID uuid.UUID, metric usage.Metric, start time.Time, recorded int64, eventName, customerID string) ([]domain.Event, error) {
	if metric.IsZero() || eventName == "" || customerID == "" {
		return nil, domain.Invalid("metric", "metric, meter event name and customer are required")
	}
	start = start.UTC()
	if !start.Equal(start.Truncate(Window)) {
		return nil, domain.Invalid("window_start", "a window starts on the hour")
	}
	w := l.Window(metric.String(), start)
	if w.Pending != nil || recorded <= w.Reported {
		return nil, nil
	}
	if w.Reported < 0 {
		return nil, domain.Invalid("quantity", "window %s of %s: a negative reported total", start.Format(time.RFC3339), metric)
	}
	rev := w.Revision + 1
	return []domain.Event{UsageReportPlanned{Metric: metric, WindowStart: start, Revision: rev,
		Quantity: recorded - w.Reported, EventName: eventName, CustomerID: customerID,
		Identifier: Identifier(tenantID, metric.String(), start, rev)}}, nil
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
	total, ok := usage.AddQuantities(w.Reported, p.Quantity)
	if !ok {
		return nil, domain.Invalid("quantity", "window %s of %s: the reported total would exceed an int64", p.WindowStart.Format(time.RFC3339), p.Metric)
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
