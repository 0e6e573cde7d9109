package billing_test

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/workers/billing"
)

func TestProvision_LinksCustomerAndSubscriptionUnderDerivedKeys(t *testing.T) {
	e := newEnv(t)
	w := e.worker()
	id := e.createTenant(domain.PlanPro)
	n, err := w.Provision(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	cus := e.proxy.requests("/v1/customers")
	require.Len(t, cus, 1)
	require.Equal(t, "tenantry:customer:"+id.String(), cus[0].IdempotencyKey)
	require.Equal(t, id.String(), cus[0].Form.Get("metadata[tenant_id]"))
	subs := e.proxy.requests("/v1/subscriptions")
	require.Len(t, subs, 1)
	require.Equal(t, "tenantry:subscription:"+id.String(), subs[0].IdempotencyKey)
	require.Equal(t, "price_tenantry_pro", subs[0].Form.Get("items[0][price]"))

	acct, _, err := app.Load(context.Background(), eventstore.DomainStore{Store: e.store, Registry: e.registry}, id, dbilling.AccountStreamID, dbilling.NewAccount)
	require.NoError(t, err)
	require.True(t, acct.Linked())
	require.Equal(t, domain.PlanPro, acct.Plan())
	pgtest.Until(t, time.Minute, 10*time.Millisecond, func() bool { return e.customerOf(id) == acct.CustomerID() },
		"the directory maps the customer to the tenant")

	n, err = w.Provision(context.Background(), id)
	require.NoError(t, err)
	require.Zero(t, n, "provisioning twice does nothing")
	require.Len(t, e.proxy.requests("/v1/customers"), 1)

	// A plan change moves the subscription's item to the new plan's price, once.
	e.tenantCommand(id, func(t *tenant.Tenant) ([]domain.Event, error) { return t.ChangePlan(domain.PlanEnterprise, e.clock()) })
	n, err = w.Provision(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	updates := e.proxy.requests("/v1/subscriptions/" + acct.SubscriptionID())
	require.Len(t, updates, 1)
	require.Equal(t, "price_tenantry_enterprise", updates[0].Form.Get("items[0][price]"))
	require.Equal(t, acct.SubscriptionItemID(), updates[0].Form.Get("items[0][id]"))
	n, err = w.Provision(context.Background(), id)
	require.NoError(t, err)
	require.Zero(t, n)
}

// pushed provisions the tenant and runs its billing work until it succeeds.
func runTenant(t *testing.T, w *billing.Worker, id uuid.UUID) billing.TenantStats {
	t.Helper()
	st, err := w.Tenant(context.Background(), id)
	require.NoError(t, err)
	return st
}

func TestPush_SendsEachWindowOnceAndLateUsageAsADelta(t *testing.T) {
	e := newEnv(t)
	w := e.worker()
	id := e.createTenant(domain.PlanPro)
	h := e.clock().Truncate(time.Hour)
	e.record(id, "api_calls", 3, h.Add(-3*time.Hour+time.Minute), h.Add(-3*time.Hour+2*time.Minute), h.Add(-2*time.Hour+time.Minute))
	e.record(id, "storage_gb", 7, h.Add(-2*time.Hour+10*time.Minute))
	e.record(id, "api_calls", 100, h.Add(10*time.Minute)) // the current hour: not due yet

	st := runTenant(t, w, id)
	require.Equal(t, 3, st.Windows)
	events := e.proxy.meterEvents(t)
	require.Len(t, events, 3, "one meter event per window with usage")
	require.Equal(t, e.recorded(id), counted(t, events), "Stripe counts exactly the recorded usage of every due window")
	for _, ev := range events {
		require.Equal(t, e.customerOf(id), ev.Customer)
	}

	runTenant(t, w, id)
	require.Len(t, e.proxy.meterEvents(t), 3, "a second run sends nothing")

	// Late usage for a reported window goes out as revision 2 with only the delta.
	e.record(id, "api_calls", 4, h.Add(-3*time.Hour+30*time.Minute))
	runTenant(t, w, id)
	events = e.proxy.meterEvents(t)
	require.Len(t, events, 4)
	last := events[3]
	require.Equal(t, int64(4), last.Value)
	require.Equal(t, dbilling.Identifier(id, "api_calls", h.Add(-3*time.Hour), 2), last.Identifier)
	require.Equal(t, dbilling.IdempotencyKey(id, "api_calls", h.Add(-3*time.Hour), 2), last.IdempotencyKey)
	require.Equal(t, e.recorded(id), counted(t, events))

	// The current hour goes out once it is due, and the reconciliation balances.
	e.advance(time.Hour)
	runTenant(t, w, id)
	require.Equal(t, e.recorded(id), counted(t, e.proxy.meterEvents(t)))
	for _, l := range requireReconLines(t, e.reconcile(id), e.recorded(id)) {
		require.Zero(t, l.Difference.Sign(), "%+v", l)
		require.Zero(t, l.UnreportedWindows, "%+v", l)
	}
}

func TestPush_ACrashAfterStripeAnsweredResendsTheSameEvent(t *testing.T) {
	e := newEnv(t)
	id := e.createTenant(domain.PlanPro)
	_, err := e.worker().Provision(context.Background(), id)
	require.NoError(t, err)
	h := e.clock().Truncate(time.Hour)
	e.record(id, "api_calls", 5, h.Add(-2*time.Hour), h.Add(-time.Hour))

	// Stripe takes the first meter event, and the worker "dies" before hearing back: its
	// context ends while the answer is on its way, so nothing confirms the push.
	ctx, crash := context.WithCancel(context.Background())
	e.proxy.setFault(func(n int, _ stripeReq) *fault {
		if n == 0 {
			crash()
			return &fault{forward: true, delay: 200 * time.Millisecond, status: http.StatusInternalServerError}
		}
		return nil
	})
	_, err = e.worker().Tenant(ctx, id)
	require.Error(t, err)
	e.proxy.setFault(nil)
	lost := e.proxy.meterEvents(t)[0]

	// A new worker (a restart) sends the planned pushes again, unchanged.
	runTenant(t, e.worker(), id)
	events := e.proxy.meterEvents(t)
	again := 0
	for _, ev := range events {
		if ev.Identifier == lost.Identifier {
			require.Equal(t, lost, ev, "the same identifier, idempotency key and value again")
			again++
		}
	}
	require.Equal(t, 2, again, "the push whose answer was lost is sent once more")
	require.Equal(t, e.recorded(id), counted(t, events), "and Stripe counts every window once")
	for _, l := range requireReconLines(t, e.reconcile(id), e.recorded(id)) {
		require.Zero(t, l.Difference.Sign(), "%+v", l)
	}
}

func TestPush_RetriesRateLimitsServerErrorsAndTimeoutsUntilExact(t *testing.T) {
	e := newEnv(t)
	id := e.createTenant(domain.PlanPro)
	h := e.clock().Truncate(time.Hour)
	for i := 1; i <= 6; i++ {
		e.record(id, "api_calls", int64(i), h.Add(-time.Duration(i)*time.Hour+time.Minute))
	}
	faults := []*fault{
		{status: http.StatusTooManyRequests},
		{status: http.StatusInternalServerError},
		{status: http.StatusServiceUnavailable, forward: true}, // Stripe did it; the answer is lost
		{delay: 1500 * time.Millisecond},                       // the client times out (1s)
		{delay: 1500 * time.Millisecond, forward: true},
	}
	e.proxy.setFault(func(n int, _ stripeReq) *fault {
		if n%2 == 0 && n/2 < len(faults) {
			return faults[n/2]
		}
		return nil
	})
	runTenant(t, e.worker(), id)
	events := e.proxy.meterEvents(t)
	require.Greater(t, len(events), 6, "failed attempts were retried")
	require.Equal(t, e.recorded(id), counted(t, events))
}

func TestPush_OneTenantsFailureDoesNotStopTheOthers(t *testing.T) {
	e := newEnv(t)
	bad, good := e.createTenant(domain.PlanPro), e.createTenant(domain.PlanPro)
	w := e.worker()
	for _, id := range []uuid.UUID{bad, good} {
		_, err := w.Provision(context.Background(), id)
		require.NoError(t, err)
	}
	h := e.clock().Truncate(time.Hour)
	e.record(bad, "api_calls", 1, h.Add(-time.Hour))
	e.record(good, "api_calls", 2, h.Add(-time.Hour))
	badCustomer := e.customerOf(bad)
	e.proxy.setFault(func(_ int, r stripeReq) *fault {
		if r.Form.Get("payload[stripe_customer_id]") == badCustomer {
			return &fault{status: http.StatusBadRequest} // permanent
		}
		return nil
	})
	stats, err := w.Cycle(context.Background())
	require.NoError(t, err)
	require.GreaterOrEqual(t, stats.Failed, 1, "the bad tenant failed")
	_, err = w.Tenant(context.Background(), bad)
	require.Error(t, err, "and keeps failing, alone")
	require.Equal(t, e.recorded(good), counted(t, eventsOf(e.proxy.meterEvents(t), e.customerOf(good))))
}

func eventsOf(events []meterEvent, customer string) []meterEvent {
	var out []meterEvent
	for _, e := range events {
		if e.Customer == customer {
			out = append(out, e)
		}
	}
	return out
}

func TestPush_ConcurrentWorkersSendEachWindowOnce(t *testing.T) {
	e := newEnv(t)
	var ids []uuid.UUID
	h := e.clock().Truncate(time.Hour)
	for i := 0; i < 6; i++ {
		id := e.createTenant(domain.PlanPro)
		ids = append(ids, id)
		for j := 1; j <= 4; j++ {
			e.record(id, "api_calls", int64(i+j), h.Add(-time.Duration(j)*time.Hour))
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e.worker()
			for round := 0; round < 3; round++ { // keep trying: a busy tenant is someone else's
				_, err := w.Cycle(context.Background())
				if !errors.Is(err, nil) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	events := e.proxy.meterEvents(t)
	seen := map[string]bool{}
	for _, ev := range events {
		require.False(t, seen[ev.Identifier], "identifier %s sent twice", ev.Identifier)
		seen[ev.Identifier] = true
	}
	for _, id := range ids {
		require.Equal(t, e.recorded(id), counted(t, eventsOf(events, e.customerOf(id))))
	}
	customers := map[string]int{}
	for _, r := range e.proxy.requests("/v1/customers") {
		customers[r.Form.Get("metadata[tenant_id]")]++
	}
	for _, id := range ids {
		require.Equal(t, 1, customers[id.String()], "each tenant got one customer")
	}
}

func TestDunning_SuspendsWhenTheGracePeriodEnds(t *testing.T) {
	e := newEnv(t)
	id := e.createTenant(domain.PlanPro)
	w := e.worker()
	e.tenantCommand(id, func(t *tenant.Tenant) ([]domain.Event, error) {
		return t.MarkPastDue(e.clock(), e.clock().Add(7*24*time.Hour), e.clock())
	})
	st := runTenant(t, w, id)
	require.Zero(t, st.Suspended)
	require.Equal(t, tenant.StatusPastDue, e.loadTenant(id).Status())

	e.advance(7*24*time.Hour + time.Minute)
	st = runTenant(t, w, id)
	require.Equal(t, 1, st.Suspended)
	tn := e.loadTenant(id)
	require.Equal(t, tenant.StatusSuspended, tn.Status())
	require.Equal(t, tenant.ReasonPaymentFailed, tn.SuspendReason())
}

func TestPush_RespectsTheRequestRate(t *testing.T) {
	e := newEnv(t)
	id := e.createTenant(domain.PlanPro)
	const rps = 20
	w := e.worker(func(c *billing.Config) { c.Caller.Limiter = rate.NewLimiter(rps, 1) })
	h := e.clock().Truncate(time.Hour)
	for i := 1; i <= 30; i++ {
		e.record(id, "api_calls", 1, h.Add(-time.Duration(i)*time.Hour))
	}
	runTenant(t, w, id)
	reqs := e.proxy.requests("/v1/billing/meter_events")
	require.Len(t, reqs, 30)
	// With a bucket of one token refilled 20 times a second, any 21 consecutive requests
	// span at least a second (less a little for the clock's resolution).
	for i := 0; i+rps < len(reqs); i++ {
		require.GreaterOrEqual(t, reqs[i+rps].At.Sub(reqs[i].At), 950*time.Millisecond, "requests %d to %d", i, i+rps)
	}
}

// A window of more than one meter event carries (15 significant digits: Stripe keeps
// values as doubles and refuses longer ones) goes out as several meter events, split evenly
// under identifiers and idempotency keys derived from the revision's; a part whose answer
// was lost is sent again unchanged with all the others, and Stripe counts each once. Two
// requests of 1,000 maximal records make such a window. Sent as one meter event of
// 2,000,000,000,000,005, it would be rounded or refused.
func TestPush_SplitsADeltaBeyondOneMeterEventIntoParts(t *testing.T) {
	e := newEnv(t)
	id := e.createTenant(domain.PlanPro)
	_, err := e.worker().Provision(context.Background(), id)
	require.NoError(t, err)
	h := e.clock().Truncate(time.Hour)
	win := h.Add(-3 * time.Hour)
	at := make([]time.Time, 1000) // an append takes at most 1,000 events: two of them
	for i := range at {
		at[i] = win.Add(time.Duration(i) * time.Millisecond)
	}
	e.record(id, "api_calls", usage.MaxQuantity, at...)
	e.record(id, "api_calls", usage.MaxQuantity, at...)
	e.record(id, "api_calls", 5, win.Add(time.Minute))
	e.record(id, "api_calls", 7, h.Add(-2*time.Hour))

	// The third part's answer is lost: the push stays pending and is sent again, whole.
	ctx, crash := context.WithCancel(context.Background())
	var lost atomic.Bool
	e.proxy.setFault(func(_ int, r stripeReq) *fault {
		if strings.HasSuffix(r.IdempotencyKey, ":r1:p2") {
			lost.Store(true)
			crash()
			return &fault{forward: true, delay: 200 * time.Millisecond, status: http.StatusInternalServerError}
		}
		return nil
	})
	_, err = e.worker().Tenant(ctx, id)
	require.Error(t, err)
	require.True(t, lost.Load(), "the third part was sent")
	e.proxy.setFault(nil)
	st := runTenant(t, e.worker(), id)
	require.Equal(t, 2, st.Windows, "both windows confirmed")

	events := e.proxy.meterEvents(t)
	require.Equal(t, e.recorded(id), counted(t, events), "Stripe counts exactly the recorded usage of every window")
	require.Equal(t, "2000000000000005", e.recorded(id)[windowKey("api_calls", win)])
	parts := map[string]meterEvent{}
	for _, ev := range events {
		if ev.Timestamp == win.Unix() {
			parts[ev.Identifier] = ev
		}
	}
	require.Len(t, parts, 3, "ceil(2,000,000,000,000,005 / 999,999,999,999,999) meter events")
	first := parts[dbilling.Identifier(id, "api_calls", win, 1)]
	require.Equal(t, dbilling.IdempotencyKey(id, "api_calls", win, 1), first.IdempotencyKey, "part 0 is the revision's own")
	require.Equal(t, int64(666_666_666_666_669), first.Value, "split evenly, the larger parts first")
	for i := 1; i < 3; i++ {
		ev, ok := parts[dbilling.PartIdentifier(first.Identifier, i)]
		require.True(t, ok, "part %d", i)
		require.Equal(t, dbilling.PartIdempotencyKey(first.IdempotencyKey, i), ev.IdempotencyKey)
		require.Equal(t, int64(666_666_666_666_668), ev.Value)
	}
	for _, l := range requireReconLines(t, e.reconcile(id), e.recorded(id)) {
		require.Zero(t, l.Difference.Sign(), "%+v", l)
	}

	// Late usage of the window goes out as revision 2, carrying the delta alone.
	e.record(id, "api_calls", 4, win.Add(30*time.Minute))
	runTenant(t, e.worker(), id)
	events = e.proxy.meterEvents(t)
	last := events[len(events)-1]
	require.Equal(t, dbilling.Identifier(id, "api_calls", win, 2), last.Identifier)
	require.Equal(t, int64(4), last.Value)
	require.Equal(t, e.recorded(id), counted(t, events))
}

// A window whose recorded total exceeds an int64 (here records stored before
// usage.MaxQuantity; enough requests of maximal records make one too) is reported whole, in
// parts, and reconciles to a difference of 0. It was left out, logged, and never billed:
// Stripe heard of the other windows only.
func TestPush_ReportsAWindowWhoseTotalExceedsInt64(t *testing.T) {
	e := newEnv(t)
	w := e.worker()
	id := e.createTenant(domain.PlanPro)
	h := e.clock().Truncate(time.Hour)
	huge := h.Add(-3 * time.Hour)
	for _, q := range []string{"9223372036854775807", "1"} {
		_, err := e.store.Append(context.Background(), id, "usage", eventstore.Any, eventstore.NewEvent{Type: "usage.recorded", SchemaVersion: 1,
			Data: []byte(`{"metric":"api_calls","quantity":` + q + `,"occurred_at":"` + huge.Add(time.Minute).Format(time.RFC3339) + `","idempotency_key":"` + uuid.NewString() + `"}`)})
		require.NoError(t, err)
	}
	e.record(id, "api_calls", 3, h.Add(-2*time.Hour+time.Minute))

	st := runTenant(t, w, id)
	require.Equal(t, 2, st.Windows)
	recorded := e.recorded(id)
	require.Equal(t, "9223372036854775808", recorded[windowKey("api_calls", huge)])
	events := e.proxy.meterEvents(t)
	require.Equal(t, recorded, counted(t, events), "every window, the one beyond an int64 included, counted exactly once")
	require.Len(t, events, 9224+1, "2^63 in meter events of at most 999,999,999,999,999, and the small window")
	for _, l := range requireReconLines(t, e.reconcile(id), recorded) {
		require.Zero(t, l.Difference.Sign(), "%+v", l)
		require.Zero(t, l.UnreportedWindows, "%+v", l)
	}
	runTenant(t, w, id)
	require.Len(t, e.proxy.meterEvents(t), 9225, "a second run sends nothing")
}

// requireReconLines requires one reconciliation line per metric and month of the recorded
// windows (keyed as windowKey makes them, exact decimal totals), each counting that month's
// recorded usage, so a loop over the lines cannot pass by having nothing to check. It
// returns the lines.
func requireReconLines(t *testing.T, lines []eventstore.ReconLine, recorded map[string]string) []eventstore.ReconLine {
	t.Helper()
	want := map[string]string{}
	for key, q := range recorded {
		metric, start, ok := strings.Cut(key, "@")
		require.True(t, ok, key)
		at, err := time.Parse(time.RFC3339, start)
		require.NoError(t, err)
		v, ok := new(big.Int).SetString(q, 10)
		require.True(t, ok, q)
		k := metric + " " + at.Format("2006-01")
		if w, ok := new(big.Int).SetString(want[k], 10); ok {
			v.Add(v, w)
		}
		want[k] = v.String()
	}
	require.NotEmpty(t, want, "the test recorded usage")
	got := map[string]string{}
	for _, l := range lines {
		got[l.Metric+" "+l.Period.Format("2006-01")] = l.Recorded.String()
	}
	require.Len(t, lines, len(want), "one line per metric and month: %+v", lines)
	require.Equal(t, want, got, "each line counts its month's recorded usage")
	return lines
}
