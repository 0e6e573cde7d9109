package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/webhook"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/workers/webhooks"
)

// receiver is a real HTTP endpoint on this machine that records what it is sent.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
	seqs   []int64 // the seqs of the deliveries it answered 2xx, in order
	hits   atomic.Int64
	answer func(seq int64, attempt int) int // status to answer; nil: 204
	tries  map[int64]int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	body, _ := io.ReadAll(req.Body)
	var b struct {
		Seq int64 `json:"seq"`
	}
	_ = json.Unmarshal(body, &b)
	r.mu.Lock()
	if r.tries == nil {
		r.tries = map[int64]int{}
	}
	r.tries[b.Seq]++
	status := http.StatusNoContent
	if r.answer != nil {
		status = r.answer(b.Seq, r.tries[b.Seq])
	}
	if status < 300 {
		r.bodies = append(r.bodies, body)
		r.sigs = append(r.sigs, req.Header.Get(webhook.SignatureHeader))
		r.seqs = append(r.seqs, b.Seq)
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *receiver) delivered() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs)
}

func serve(t *testing.T, h http.Handler) string { return serveTB(t, h) }

func serveTB(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func statuses(ds []eventstore.WebhookDelivery) map[string]int {
	out := map[string]int{}
	for _, d := range ds {
		out[d.Status]++
	}
	return out
}

func TestDeliver_SignsTheBodySoTheSecretVerifiesItAndBothSecretsDuringARotation(t *testing.T) {
	f := newFixture(t)
	rcv := &receiver{}
	tenant := uuid.Must(uuid.NewV7())
	ep, secret := f.endpoint(t, tenant, serve(t, rcv))
	f.record(t, tenant, 1)
	w := f.newWorker(t)
	until(t, w, func() bool { return len(rcv.delivered()) == 1 })
	require.NoError(t, webhook.Verify(rcv.sigs[0], rcv.bodies[0], secret, webhook.Tolerance, time.Now()))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rcv.bodies[0], &body))
	require.Equal(t, eventType, body["type"])
	require.Equal(t, tenant.String(), body["tenant_id"])
	require.Equal(t, map[string]any{"n": float64(0)}, body["data"])
	require.Equal(t, map[string]int{"delivered": 1}, statuses(f.deliveries(t, tenant, ep)))

	// Rotation with overlap: two v1 signatures, each secret verifies.
	next, err := webhook.NewSecret()
	require.NoError(t, err)
	sealed, err := f.key.Seal(ep, next)
	require.NoError(t, err)
	_, err = f.app.RotateWebhookSecret(context.Background(), tenant, ep, sealed, time.Hour)
	require.NoError(t, err)
	f.record(t, tenant, 1)
	until(t, w, func() bool { return len(rcv.delivered()) == 2 })
	require.Regexp(t, `^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$`, rcv.sigs[1])
	require.NoError(t, webhook.Verify(rcv.sigs[1], rcv.bodies[1], next, webhook.Tolerance, time.Now()))
	require.NoError(t, webhook.Verify(rcv.sigs[1], rcv.bodies[1], secret, webhook.Tolerance, time.Now()))
}

func TestDeliver_RetriesAfterA500AndWhileTheReceiverIsDown(t *testing.T) {
	f := newFixture(t)
	tenant := uuid.Must(uuid.NewV7())
	flaky := &receiver{answer: func(_ int64, attempt int) int {
		if attempt == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}}
	ep, _ := f.endpoint(t, tenant, serve(t, flaky))
	// A receiver that is down: a port nobody listens on, until it comes up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	down, _ := f.endpoint(t, tenant, "http://"+addr+"/hook")
	f.record(t, tenant, 1)

	w := f.newWorker(t)
	until(t, w, func() bool { return len(flaky.delivered()) == 1 })
	ds := f.deliveries(t, tenant, ep)
	require.Equal(t, 2, ds[0].Attempts)
	require.Equal(t, 200, *ds[0].LastStatus)

	until(t, w, func() bool { return f.deliveries(t, tenant, down)[0].Attempts >= 2 })
	d := f.deliveries(t, tenant, down)[0]
	require.Equal(t, "pending", d.Status)
	require.Nil(t, d.LastStatus)
	require.Contains(t, *d.LastError, "refused")

	up := &receiver{}
	srv := httptest.NewUnstartedServer(up)
	srv.Listener, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(srv.Close)
	until(t, w, func() bool { return len(up.delivered()) == 1 })
	require.Equal(t, "delivered", f.deliveries(t, tenant, down)[0].Status)
}

func TestDeliver_AHangingReceiverTimesOutWithoutDelayingAnotherEndpoint(t *testing.T) {
	f := newFixture(t)
	tenant := uuid.Must(uuid.NewV7())
	release := make(chan struct{})
	hang, _ := f.endpoint(t, tenant, serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // so the server notices the client hanging up
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})))
	t.Cleanup(func() { close(release) }) // before the server's Close (cleanups run last first)
	fast := &receiver{}
	f.endpoint(t, tenant, serve(t, fast))
	f.record(t, tenant, 3)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := f.newWorker(t, func(c *webhooks.Config) { c.Timeout = 1500 * time.Millisecond })
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Run(ctx) }()
	for len(fast.delivered()) < 3 {
		require.Less(t, time.Since(start), 1200*time.Millisecond, "the fast endpoint waited for the hanging one")
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, []int64{1, 2, 3}, fast.delivered())
	pollUntil(t, func() bool {
		d := f.deliveries(t, tenant, hang)
		return slices.ContainsFunc(d, func(d eventstore.WebhookDelivery) bool { return d.LastError != nil && *d.LastError == "timed out" })
	})
	cancel()
	require.NoError(t, <-done)
}

func pollUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not met in time")
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeliver_KeepsOrderPerTenantThroughRetries(t *testing.T) {
	f := newFixture(t)
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	rcv := &receiver{answer: func(seq int64, attempt int) int {
		if seq%3 == 2 && attempt <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	url := serve(t, rcv)
	epA, _ := f.endpoint(t, a, url)
	epB, _ := f.endpoint(t, b, url)
	f.record(t, a, 10)
	f.record(t, b, 10)
	w := f.newWorker(t)
	until(t, w, func() bool {
		return statuses(f.deliveries(t, a, epA))["delivered"] == 10 && statuses(f.deliveries(t, b, epB))["delivered"] == 10
	})
	// Each tenant's deliveries arrived in seq order (the receiver serves both tenants: seqs
	// interleave, but each tenant's own are increasing).
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	last := map[string]int64{}
	for _, body := range rcv.bodies {
		var d struct {
			Tenant string `json:"tenant_id"`
			Seq    int64  `json:"seq"`
		}
		require.NoError(t, json.Unmarshal(body, &d))
		require.Greater(t, d.Seq, last[d.Tenant], "tenant %s: seq %d after %d", d.Tenant, d.Seq, last[d.Tenant])
		last[d.Tenant] = d.Seq
	}
}

// Two workers at once (replicas), one of them stopped mid-way and started again: every
// delivery arrives, none twice at the same time, and none twice unless a retry was needed.
func TestDeliver_ReplicasAndARestartSendEachDeliveryOnceAndLoseNone(t *testing.T) {
	f := newFixture(t)
	var inFlight sync.Map // seq key -> *atomic.Int64
	var overlaps, successes atomic.Int64
	var mu sync.Mutex
	got := map[string]int{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var d struct {
			Tenant string `json:"tenant_id"`
			Seq    int64  `json:"seq"`
		}
		_ = json.Unmarshal(body, &d)
		key := d.Tenant + "/" + itoa(int(d.Seq))
		c, _ := inFlight.LoadOrStore(key, new(atomic.Int64))
		if c.(*atomic.Int64).Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(2 * time.Millisecond)
		c.(*atomic.Int64).Add(-1)
		mu.Lock()
		got[key]++
		mu.Unlock()
		successes.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	url := serve(t, h)
	for range 8 {
		tn := uuid.Must(uuid.NewV7())
		f.endpoint(t, tn, url)
		f.record(t, tn, 15)
	}
	ctx1, stop1 := context.WithCancel(context.Background())
	ctx2, stop2 := context.WithCancel(context.Background())
	w1, w2 := f.newWorker(t), f.newWorker(t)
	d1, d2 := make(chan error, 1), make(chan error, 1)
	go func() { d1 <- w1.Run(ctx1) }()
	go func() { d2 <- w2.Run(ctx2) }()
	time.Sleep(30 * time.Millisecond)
	stop1() // a restart of one replica mid-way
	require.NoError(t, <-d1)
	ctx1, stop1 = context.WithCancel(context.Background())
	w1 = f.newWorker(t)
	go func() { d1 <- w1.Run(ctx1) }()
	pollUntil(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 8*15
	})
	stop1()
	stop2()
	require.NoError(t, <-d1)
	require.NoError(t, <-d2)
	require.Zero(t, overlaps.Load(), "a delivery was being sent twice at the same time")
	mu.Lock()
	defer mu.Unlock()
	for k, n := range got {
		require.Equal(t, 1, n, "delivery %s sent %d times without need", k, n)
	}
}

// The per-endpoint bound holds across replicas: an operator endpoint receiving many
// tenants' events from two workers never has more than PerEndpoint requests open at once
// (each tenant's deliveries are independent, so without the bound both workers would send
// A tenant's deliveries to one endpoint go one at a time, but each is claimed as soon as the
// one before it is answered, not at the worker's next poll: a burst drains at the speed of
// the receiver.
func TestDeliver_ClaimsAPairsNextDeliveryAsSoonAsTheLastIsAnswered(t *testing.T) {
	f := newFixture(t)
	var delivered atomic.Int64
	tn := uuid.Must(uuid.NewV7())
	f.endpoint(t, tn, serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})))
	const n = 40
	f.record(t, tn, n)
	w := f.newWorker(t, func(c *webhooks.Config) { c.PollInterval = time.Hour })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for delivered.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	require.NoError(t, <-done)
	require.EqualValues(t, n, delivered.Load(), "with an hour between polls, only wakes can have claimed them")
}

// up to all of them together), and every delivery arrives.
func TestDeliver_PerEndpointConcurrencyIsBoundedAcrossWorkers(t *testing.T) {
	f := newFixture(t)
	var open, most, delivered atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := open.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(40 * time.Millisecond)
		open.Add(-1)
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	f.endpoint(t, uuid.Nil, serve(t, h))
	const tenants, each = 12, 2
	for range tenants {
		f.record(t, uuid.Must(uuid.NewV7()), each)
	}
	ctx, stop := context.WithCancel(context.Background())
	bounded := func(c *webhooks.Config) { c.PerEndpoint = 3 }
	w1, w2 := f.newWorker(t, bounded), f.newWorker(t, bounded)
	d1, d2 := make(chan error, 1), make(chan error, 1)
	go func() { d1 <- w1.Run(ctx) }()
	go func() { d2 <- w2.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for delivered.Load() < tenants*each && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	require.NoError(t, <-d1)
	require.NoError(t, <-d2)
	require.EqualValues(t, tenants*each, delivered.Load())
	require.LessOrEqual(t, most.Load(), int64(3), "requests open at once to one endpoint")
	require.Equal(t, int64(3), most.Load(), "the bound is reached, so it is what held the workers back")
}

func TestDeliver_DisablesAnEndpointAfterSustainedFailureUntilItsOwnerReEnablesIt(t *testing.T) {
	f := newFixture(t)
	tenant := uuid.Must(uuid.NewV7())
	var healthy atomic.Bool
	rcv := &receiver{answer: func(int64, int) int {
		if healthy.Load() {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	}}
	ep, _ := f.endpoint(t, tenant, serve(t, rcv))
	f.record(t, tenant, 2)
	w := f.newWorker(t, func(c *webhooks.Config) { c.Disable = webhook.Disable{Span: time.Hour, Consecutive: 3} })
	until(t, w, func() bool {
		e, err := f.app.WebhookEndpoint(context.Background(), tenant, ep)
		require.NoError(t, err)
		return e.Status == "disabled"
	})
	e, _ := f.app.WebhookEndpoint(context.Background(), tenant, ep)
	require.Contains(t, *e.DisabledReason, "3 failed attempts in a row")
	hits := rcv.hits.Load()
	for range 5 {
		_, err := w.Once(context.Background())
		require.NoError(t, err)
		time.Sleep(25 * time.Millisecond)
	}
	require.Equal(t, hits, rcv.hits.Load(), "a disabled endpoint is not called")

	healthy.Store(true)
	enabled := "enabled"
	_, err := f.app.PatchWebhookEndpoint(context.Background(), tenant, ep, eventstore.WebhookEndpointPatch{Status: &enabled})
	require.NoError(t, err)
	until(t, w, func() bool { return statuses(f.deliveries(t, tenant, ep))["delivered"] == 2 })
	e, _ = f.app.WebhookEndpoint(context.Background(), tenant, ep)
	require.Zero(t, e.ConsecutiveFailures)
	require.Nil(t, e.FailingSince)
}

func TestDeliver_RefusesPrivateAddressesWithoutConnecting(t *testing.T) {
	f := newFixture(t)
	tenant := uuid.Must(uuid.NewV7())
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	ep, _ := f.endpoint(t, tenant, srv.URL)
	f.record(t, tenant, 1)
	w := f.newWorker(t, func(c *webhooks.Config) { c.AllowPrivate = false })
	until(t, w, func() bool { return f.deliveries(t, tenant, ep)[0].Attempts >= 1 })
	d := f.deliveries(t, tenant, ep)[0]
	require.Equal(t, "pending", d.Status)
	require.Contains(t, *d.LastError, "not public")
	require.Zero(t, conns.Load(), "no connection was made")
}

func TestDeliver_DoesNotFollowRedirects(t *testing.T) {
	f := newFixture(t)
	tenant := uuid.Must(uuid.NewV7())
	target := &receiver{}
	targetURL := serve(t, target)
	ep, _ := f.endpoint(t, tenant, serve(t, http.RedirectHandler(targetURL, http.StatusTemporaryRedirect)))
	f.record(t, tenant, 1)
	w := f.newWorker(t)
	until(t, w, func() bool { return f.deliveries(t, tenant, ep)[0].Attempts >= 1 })
	d := f.deliveries(t, tenant, ep)[0]
	require.Equal(t, http.StatusTemporaryRedirect, *d.LastStatus)
	require.Equal(t, "pending", d.Status)
	require.Zero(t, target.hits.Load())
}
