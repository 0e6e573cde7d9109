package billing_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

// stripeBase is stripe-mock's URL; `make test` starts it and sets STRIPE_API_BASE.
func stripeBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv("STRIPE_API_BASE")
	if base == "" {
		t.Fatal("STRIPE_API_BASE is not set: run the tests with `make test`, which starts stripe-mock")
	}
	return base
}

// stripeReq is one request the recording proxy saw.
type stripeReq struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
	At                           time.Time
}

// fault is what the proxy does to one request instead of (or after) forwarding it.
type fault struct {
	status  int           // answer this status (a Stripe-shaped error)
	forward bool          // forward to stripe-mock first, then answer status anyway: the answer is lost
	delay   time.Duration // wait this long first (longer than the client's timeout: a timeout)
}

// proxy is a recording proxy in front of stripe-mock: it keeps every request and can fail
// chosen ones, to assert exactly what Stripe was sent.
type proxy struct {
	srv   *httptest.Server
	base  string
	mu    sync.Mutex
	reqs  []stripeReq
	fault func(n int, r stripeReq) *fault // n counts meter event requests from 0
	meter atomic.Int64
}

func newProxy(t testing.TB) *proxy {
	p := &proxy{base: stripeBase(t)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) serve(w http.ResponseWriter, r *http.Request) {
	// A request whose body did not arrive whole (its client gave up while sending it, as
	// a crashing worker's concurrent sends do) is not one Stripe would have taken: it is
	// neither recorded nor forwarded.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := stripeReq{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: form, At: time.Now()}
	p.mu.Lock()
	p.reqs = append(p.reqs, rec)
	f := p.fault
	p.mu.Unlock()
	var flt *fault
	if r.URL.Path == "/v1/billing/meter_events" {
		n := int(p.meter.Add(1) - 1)
		if f != nil {
			flt = f(n, rec)
		}
	}
	if flt != nil && flt.delay > 0 {
		select {
		case <-time.After(flt.delay):
		case <-r.Context().Done():
			return
		}
	}
	if flt != nil && !flt.forward && flt.status != 0 {
		stripeError(w, flt.status)
		return
	}
	out, _ := http.NewRequestWithContext(r.Context(), r.Method, p.base+r.URL.RequestURI(), bytes.NewReader(body))
	out.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	resBody, _ := io.ReadAll(res.Body)
	if flt != nil && flt.status != 0 {
		stripeError(w, flt.status)
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(resBody)
}

func stripeError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"type":"api_error","message":"injected %d"}}`, status)
}

// setFault sets (or, with nil, clears) the fault function while requests may be arriving.
func (p *proxy) setFault(f func(n int, r stripeReq) *fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

func (p *proxy) requests(path string) []stripeReq {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []stripeReq
	for _, r := range p.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// meterEvent is a meter event request as Stripe would dedupe it. Value is the value when
// it is a whole number; Text is the value as sent (a decimal for metrics with decimals).
type meterEvent struct {
	Identifier, IdempotencyKey, EventName, Customer string
	Value                                           int64
	Text                                            string
	Timestamp                                       int64
}

func (p *proxy) meterEvents(t testing.TB) []meterEvent {
	t.Helper()
	var out []meterEvent
	for _, r := range p.requests("/v1/billing/meter_events") {
		text := r.Form.Get("payload[value]")
		v, err := strconv.ParseInt(text, 10, 64)
		if !strings.Contains(text, ".") {
			require.NoError(t, err)
		}
		ts, err := strconv.ParseInt(r.Form.Get("timestamp"), 10, 64)
		require.NoError(t, err)
		out = append(out, meterEvent{Identifier: r.Form.Get("identifier"), IdempotencyKey: r.IdempotencyKey,
			EventName: r.Form.Get("event_name"), Customer: r.Form.Get("payload[stripe_customer_id]"), Value: v, Text: text, Timestamp: ts})
	}
	return out
}

// counted returns what Stripe counts: per window (event name and timestamp) the exact sum,
// in decimal, of the values of distinct identifiers. It fails the test if one identifier
// was ever sent with a different idempotency key or value (a repeat must be a byte-for-byte
// retry), or if one value is more than a meter event carries.
func counted(t testing.TB, events []meterEvent) map[string]string {
	t.Helper()
	first := map[string]meterEvent{}
	sums := map[string]*big.Int{}
	for _, e := range events {
		require.True(t, e.Value >= 1 && e.Value <= 999_999_999_999_999, "meter event %s carries %d: 1 to 15 digits", e.Identifier, e.Value)
		if prev, ok := first[e.Identifier]; ok {
			require.Equal(t, prev, e, "identifier %s sent twice with different contents", e.Identifier)
			continue
		}
		first[e.Identifier] = e
		k := windowKey(e.EventName, time.Unix(e.Timestamp, 0))
		if sums[k] == nil {
			sums[k] = new(big.Int)
		}
		sums[k].Add(sums[k], big.NewInt(e.Value))
	}
	out := map[string]string{}
	for k, v := range sums {
		out[k] = v.String()
	}
	return out
}

func windowKey(metric string, start time.Time) string {
	return metric + "@" + start.UTC().Format(time.RFC3339)
}

// env is a database with the projection pipeline running, a recording proxy in front of
// stripe-mock, and a fixed clock.
type env struct {
	t        testing.TB
	store    *eventstore.Store
	registry *eventstore.Registry
	proxy    *proxy
	stripe   string // the Stripe base the workers use: the proxy, or stripe-mock itself
	now      time.Time
	nowMu    sync.Mutex
}

func newEnv(t testing.TB) *env {
	t.Helper()
	pool := pgtest.Pool(t, testDB.WorkerURL, 24) // the billing worker and the pipeline are the worker's
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	log := slog.New(slog.DiscardHandler)
	notifier := eventstore.NewNotifier(pool, 0, log)
	store, err := eventstore.NewStore(pool, eventstore.StoreConfig{Notifier: notifier, GroupCommitters: 4})
	require.NoError(t, err)
	pipeline, err := projections.NewPipeline(projections.PipelineConfig{Store: store, Registry: reg, Logger: log, Notifier: notifier})
	require.NoError(t, err)
	pipeline.Projector.PollInterval = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = pipeline.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// Half past an hour, so the windows of the last hours are due (settle: 5 minutes).
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	p := newProxy(t)
	return &env{t: t, store: store, registry: reg, proxy: p, stripe: p.srv.URL, now: now}
}

func (e *env) clock() time.Time {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	e.now = e.now.Add(d)
}

// worker builds a billing worker on the env; opts adjust its configuration first.
func (e *env) worker(opts ...func(*billing.Config)) *billing.Worker {
	e.t.Helper()
	cfg := billing.Config{Store: e.store, Registry: e.registry, Now: e.clock,
		Stripe:     billing.NewStripeAPI("sk_test_123", e.stripe, time.Second),
		Caller:     &billing.Caller{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxAttempts: 12},
		ReadModels: projections.ReadModels{Store: e.store},
		Logger:     slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	w, err := billing.New(cfg)
	require.NoError(e.t, err)
	return w
}

var slugs atomic.Int64

// createTenant appends tenant.created and waits until the directory lists the tenant.
func (e *env) createTenant(plan domain.PlanName) uuid.UUID {
	e.t.Helper()
	id, err := uuid.NewV7()
	require.NoError(e.t, err)
	slug, err := domain.ParseSlug(fmt.Sprintf("bill-%d-%d", time.Now().UnixNano()%1e9, slugs.Add(1)))
	require.NoError(e.t, err)
	e.tenantCommand(id, func(t *tenant.Tenant) ([]domain.Event, error) {
		return tenant.Create(id, "Billing "+slug.String(), slug, plan, e.clock())
	})
	require.NoError(e.t, e.store.WaitForDirectory(context.Background(), id, time.Minute))
	return id
}

func (e *env) tenantCommand(id uuid.UUID, decide func(*tenant.Tenant) ([]domain.Event, error)) *tenant.Tenant {
	e.t.Helper()
	cmd := app.Command[*tenant.Tenant]{Store: eventstore.DomainStore{Store: e.store, Registry: e.registry}, Tenant: id, Stream: tenant.StreamID,
		New: func() *tenant.Tenant { return &tenant.Tenant{} }, Metadata: eventstore.Metadata{Actor: "test"}}
	tn, _, err := cmd.Run(context.Background(), decide)
	require.NoError(e.t, err)
	return tn
}

func (e *env) loadTenant(id uuid.UUID) *tenant.Tenant {
	e.t.Helper()
	tn, _, err := app.Load(context.Background(), eventstore.DomainStore{Store: e.store, Registry: e.registry}, id, tenant.StreamID, func() *tenant.Tenant { return &tenant.Tenant{} })
	require.NoError(e.t, err)
	return tn
}

var keys atomic.Int64

// record appends usage records of metric at each instant, quantity each, with fresh keys.
func (e *env) record(id uuid.UUID, metric string, quantity int64, at ...time.Time) {
	e.t.Helper()
	e.recordText(id, metric, strconv.FormatInt(quantity, 10), at...)
}

// recordText is record of a quantity written as a decimal ("1.25").
func (e *env) recordText(id uuid.UUID, metric, quantity string, at ...time.Time) {
	e.t.Helper()
	m, err := usage.ParseMetric(metric)
	require.NoError(e.t, err)
	q, err := usage.ParseQuantityScale(quantity, usage.MaxScale)
	require.NoError(e.t, err)
	var events []eventstore.NewEvent
	for _, ts := range at {
		k, err := usage.ParseIdempotencyKey("k-" + strconv.FormatInt(keys.Add(1), 10))
		require.NoError(e.t, err)
		ne, err := e.registry.Encode(usage.Recorded{Metric: m, Quantity: q, OccurredAt: ts.UTC(), IdempotencyKey: k}, eventstore.Metadata{})
		require.NoError(e.t, err)
		ne.ID = usage.RecordEventID(id, k)
		events = append(events, ne)
	}
	_, err = e.store.Append(context.Background(), id, usage.StreamID, eventstore.Any, events...)
	require.NoError(e.t, err)
}

// recorded reads the recorded usage per window (exact, in decimal) from the read models,
// once they include every event.
func (e *env) recorded(id uuid.UUID) map[string]string {
	e.t.Helper()
	ctx := context.Background()
	head, _, err := e.store.Head(ctx, id)
	require.NoError(e.t, err)
	require.NoError(e.t, e.store.WaitFor(ctx, id, head, time.Minute))
	var points []eventstore.UsagePoint
	require.NoError(e.t, e.store.InTenant(ctx, id, true, func(tx *eventstore.Tx) error {
		var err error
		points, err = tx.UsageSeries(ctx, "", time.Time{}, e.clock().Add(-5*time.Minute).Truncate(time.Hour), false)
		return err
	}))
	out := map[string]string{}
	for _, p := range points {
		out[windowKey(p.Metric, p.Start)] = p.Total().String()
	}
	return out
}

// reconcile reads GET /v1/billing's lines for the tenant.
func (e *env) reconcile(id uuid.UUID) []eventstore.ReconLine {
	e.t.Helper()
	ctx := context.Background()
	head, _, err := e.store.Head(ctx, id)
	require.NoError(e.t, err)
	require.NoError(e.t, e.store.WaitFor(ctx, id, head, time.Minute))
	var lines []eventstore.ReconLine
	require.NoError(e.t, e.store.InTenant(ctx, id, true, func(tx *eventstore.Tx) error {
		var err error
		lines, err = tx.Reconcile(ctx, time.Time{}, e.clock().Add(time.Hour), e.clock().Add(-5*time.Minute).Truncate(time.Hour))
		return err
	}))
	return lines
}

// customerOf returns the tenant's linked Stripe customer, once the directory shows it.
func (e *env) customerOf(id uuid.UUID) string {
	e.t.Helper()
	var cus string
	require.Eventually(e.t, func() bool {
		t, err := e.store.FindTenant(context.Background(), id.String())
		cus = t.StripeCustomerID
		return err == nil && cus != ""
	}, time.Minute, 5*time.Millisecond, "tenant %s is not linked to a Stripe customer", id)
	return cus
}
