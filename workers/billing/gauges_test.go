package billing_test

import (
	"context"
	"net/http"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/workers/billing"
)

// defined is a billing worker option declaring metrics.
func defined(t testing.TB, defs ...usage.Definition) func(*billing.Config) {
	t.Helper()
	s := usage.StaticDefinitions{}
	for _, d := range defs {
		require.NoError(t, d.Validate())
		s[d.Metric] = d
	}
	return func(c *billing.Config) { c.Definitions = s }
}

func def(t testing.TB, metric string, kind usage.Kind, agg usage.Aggregation, scale int) usage.Definition {
	t.Helper()
	m, err := usage.ParseMetric(metric)
	require.NoError(t, err)
	return usage.Definition{Metric: m, Kind: kind, Aggregation: agg, Scale: scale}
}

// sent returns the meter events of one event name, distinct identifiers only (as Stripe
// counts them), by timestamp then identifier.
func sent(t testing.TB, e *env, name string) []meterEvent {
	t.Helper()
	seen := map[string]bool{}
	var out []meterEvent
	for _, ev := range e.proxy.meterEvents(t) {
		if ev.EventName == name && !seen[ev.Identifier] {
			seen[ev.Identifier] = true
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out
}

// sum adds meter event values exactly.
func sum(t testing.TB, events []meterEvent) string {
	t.Helper()
	total := usage.Decimal{}
	for _, ev := range events {
		v, err := usage.ParseDecimal(ev.Text)
		require.NoError(t, err, ev.Text)
		total = total.Add(v)
	}
	return total.String()
}

// A counter that allows decimal places is pushed as exact decimal values ("1.375"), late
// usage as the exact decimal delta, and the reconciliation shows nothing left over.
func TestPush_DecimalQuantitiesGoOutAsExactDecimalValues(t *testing.T) {
	e := newEnv(t)
	w := e.worker(defined(t, def(t, "gpu_hours", usage.KindCounter, usage.AggregationSum, 3)))
	id := e.createTenant(domain.PlanPro)
	h := e.clock().Truncate(time.Hour)
	a, b := h.Add(-3*time.Hour), h.Add(-2*time.Hour)
	e.recordText(id, "gpu_hours", "1.25", a.Add(time.Minute))
	e.recordText(id, "gpu_hours", "0.125", a.Add(2*time.Minute))
	e.recordText(id, "gpu_hours", "2", b.Add(time.Minute))
	e.record(id, "api_calls", 3, b.Add(time.Minute)) // undeclared: whole units, as before

	runTenant(t, w, id)
	events := sent(t, e, "gpu_hours")
	require.Len(t, events, 2)
	require.Equal(t, "1.375", events[0].Text, "1.25 + 0.125, exactly")
	require.Equal(t, a.Unix(), events[0].Timestamp)
	require.Equal(t, "2", events[1].Text)
	calls := sent(t, e, "api_calls")
	require.Len(t, calls, 1)
	require.Equal(t, "3", calls[0].Text)

	e.recordText(id, "gpu_hours", "0.005", a.Add(3*time.Minute))
	runTenant(t, w, id)
	events = sent(t, e, "gpu_hours")
	require.Len(t, events, 3)
	late := events[1]
	require.Equal(t, dbilling.Identifier(id, "gpu_hours", a, 2), late.Identifier)
	require.Equal(t, "0.005", late.Text, "the late usage's exact delta")
	require.Equal(t, "3.38", sum(t, events))
	runTenant(t, w, id)
	require.Len(t, sent(t, e, "gpu_hours"), 3, "nothing new: nothing sent")
	for _, l := range e.reconcile(id) {
		require.Zero(t, l.Difference.Sign(), "%+v", l)
		if l.Metric == "gpu_hours" {
			require.Equal(t, 2, l.Scale)
			require.Equal(t, "338", l.Reported.String(), "3.38 reported, in hundredths")
		}
	}
}

// A gauge billed by its maximum goes to a Stripe meter that sums: each push carries the
// rise of the period's (UTC month's) highest reading, so the meter's sum is exactly that
// maximum; lower readings, and retries after Stripe failed, add nothing.
func TestPush_GaugeMaxBillsThePeriodsHighestReadingOnASumMeter(t *testing.T) {
	e := newEnv(t)
	w := e.worker(defined(t, def(t, "storage_gb", usage.KindGauge, usage.AggregationMax, 2)))
	id := e.createTenant(domain.PlanPro)
	win := e.clock().Truncate(time.Hour).Add(-2 * time.Hour) // one window: one month whatever the day
	period := dbilling.Period(win)
	e.recordText(id, "storage_gb", "5", win.Add(time.Minute))
	e.recordText(id, "storage_gb", "9.5", win.Add(20*time.Minute))
	e.recordText(id, "storage_gb", "3", win.Add(40*time.Minute))

	// Stripe takes the first attempt of each meter event but its answer is lost: the retry
	// carries the same identifier, key and value, which Stripe counts once.
	var fails atomic.Int64
	e.proxy.setFault(func(_ int, r stripeReq) *fault {
		if r.Path == "/v1/billing/meter_events" && fails.Add(1)%2 == 1 {
			return &fault{status: http.StatusInternalServerError, forward: true}
		}
		return nil
	})
	runTenant(t, w, id)
	events := sent(t, e, "storage_gb")
	require.Len(t, events, 1)
	require.Equal(t, "9.5", events[0].Text)
	require.Equal(t, dbilling.Identifier(id, "storage_gb", period, 1), events[0].Identifier)
	require.Equal(t, win.Unix(), events[0].Timestamp, "the window that reached the maximum")

	e.recordText(id, "storage_gb", "12", win.Add(50*time.Minute)) // a new maximum
	e.recordText(id, "storage_gb", "1", win.Add(55*time.Minute))  // lower: changes nothing
	runTenant(t, w, id)
	events = sent(t, e, "storage_gb")
	require.Len(t, events, 2)
	require.Equal(t, "2.5", events[1].Text, "only the rise of the maximum")
	require.Equal(t, "12", sum(t, events), "the sum meter bills exactly the period's maximum")
	first := map[string]meterEvent{}
	for _, ev := range e.proxy.meterEvents(t) {
		if prev, ok := first[ev.Identifier]; ok {
			require.Equal(t, prev, ev, "a resend is byte for byte the same")
		}
		first[ev.Identifier] = ev
	}
	require.Len(t, e.proxy.meterEvents(t), 4, "each meter event sent twice: its first answer was lost")

	e.recordText(id, "storage_gb", "11.99", win.Add(56*time.Minute))
	runTenant(t, w, id)
	require.Len(t, sent(t, e, "storage_gb"), 2, "a lower reading sends nothing")
	ledger, _, err := app.Load(context.Background(), eventstore.DomainStore{Store: e.store, Registry: e.registry}, id,
		dbilling.LedgerStreamID(period), dbilling.NewLedger)
	require.NoError(t, err)
	st := ledger.Window("storage_gb", period)
	require.Equal(t, "12", st.Reported.String())
	require.Equal(t, 2, st.Revision)
}

// A gauge billed by its last reading goes to a Stripe meter whose formula is last: each
// change of the period's last reading (by occurred_at, whatever the arrival order) is sent
// as the value itself, timestamped after the previous one, so the meter's last event is
// the last reading.
func TestPush_GaugeLastSendsThePeriodsLastReadingOnALastMeter(t *testing.T) {
	e := newEnv(t)
	w := e.worker(defined(t, def(t, "disk_gb", usage.KindGauge, usage.AggregationLast, 3)))
	id := e.createTenant(domain.PlanPro)
	win := e.clock().Truncate(time.Hour).Add(-2 * time.Hour)
	period := dbilling.Period(win)
	e.recordText(id, "disk_gb", "10.5", win.Add(50*time.Minute))
	e.recordText(id, "disk_gb", "99", win.Add(10*time.Minute)) // earlier, arrives later: not the last

	runTenant(t, w, id)
	events := sent(t, e, "disk_gb")
	require.Len(t, events, 1)
	require.Equal(t, "10.5", events[0].Text)
	require.Equal(t, win.Add(50*time.Minute).Unix(), events[0].Timestamp, "the last reading's time")
	require.Equal(t, dbilling.Identifier(id, "disk_gb", period, 1), events[0].Identifier)

	e.recordText(id, "disk_gb", "4.125", win.Add(55*time.Minute)) // lower, but later: the new last
	e.recordText(id, "disk_gb", "7", win.Add(20*time.Minute))     // earlier: changes nothing
	runTenant(t, w, id)
	events = sent(t, e, "disk_gb")
	require.Len(t, events, 2)
	require.Equal(t, "4.125", events[1].Text)
	require.Greater(t, events[1].Timestamp, events[0].Timestamp, "the newest revision is the meter's last event")
	runTenant(t, w, id)
	require.Len(t, sent(t, e, "disk_gb"), 2, "nothing changed: nothing sent")

	ledger, _, err := app.Load(context.Background(), eventstore.DomainStore{Store: e.store, Registry: e.registry}, id,
		dbilling.LedgerStreamID(period), dbilling.NewLedger)
	require.NoError(t, err)
	require.Equal(t, "4.125", ledger.Window("disk_gb", period).Reported.String(), "the ledger holds the value, not a sum")
}

// A worker that dies after Stripe took a gauge's push but before it was confirmed: the
// restarted worker sends that push again unchanged (the value told before the crash, its
// identifier and timestamp), even though the last reading has changed since, and only then
// pushes the new value as the next revision. Stripe's last event is the new reading.
func TestPush_GaugeLastPushInterruptedByACrashIsResentUnchangedBeforeTheNextValue(t *testing.T) {
	e := newEnv(t)
	opt := defined(t, def(t, "disk_gb", usage.KindGauge, usage.AggregationLast, 3))
	id := e.createTenant(domain.PlanPro)
	_, err := e.worker(opt).Tenant(context.Background(), id) // link the customer
	require.NoError(t, err)
	win := e.clock().Truncate(time.Hour).Add(-2 * time.Hour)
	e.recordText(id, "disk_gb", "10.5", win.Add(10*time.Minute))

	ctx, crash := context.WithCancel(context.Background())
	e.proxy.setFault(func(_ int, r stripeReq) *fault {
		if r.Path == "/v1/billing/meter_events" {
			crash()
			return &fault{forward: true, delay: 200 * time.Millisecond, status: http.StatusInternalServerError}
		}
		return nil
	})
	_, err = e.worker(opt).Tenant(ctx, id)
	require.Error(t, err)
	e.proxy.setFault(nil)
	lost := e.proxy.meterEvents(t)
	require.Len(t, lost, 1)
	require.Equal(t, "10.5", lost[0].Text)

	e.recordText(id, "disk_gb", "2.25", win.Add(40*time.Minute)) // the last reading moves on
	runTenant(t, e.worker(opt), id)
	all := e.proxy.meterEvents(t)
	require.Len(t, all, 2)
	require.Equal(t, lost[0], all[1], "the interrupted push again, byte for byte")
	runTenant(t, e.worker(opt), id)
	events := sent(t, e, "disk_gb")
	require.Len(t, events, 2)
	require.Equal(t, "2.25", events[1].Text, "then the new last reading, as the next revision")
	require.Greater(t, events[1].Timestamp, events[0].Timestamp)
	require.Equal(t, dbilling.Identifier(id, "disk_gb", dbilling.Period(win), 2), events[1].Identifier)
}
