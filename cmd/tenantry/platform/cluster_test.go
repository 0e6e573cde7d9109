package platform

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// cluster is two replicas of each role as separate processes of the real binary, on one
// PostgreSQL database and one NATS server, with Stripe calls going through a recording
// proxy in front of stripe-mock.
type cluster struct {
	t     *testing.T
	bin   string
	dir   string
	env   []string
	mu    sync.Mutex
	procs map[string]*proc
	apis  []string
	proxy *meterProxy
	// metricsAddr is where projector-1 serves /metrics.
	metricsAddr string
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// proc is one started process. done is closed once Wait has returned: only then may its
// ProcessState be read (Wait writes it in another goroutine).
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *cluster) start(name string, args ...string) {
	c.t.Helper()
	logf, err := os.OpenFile(filepath.Join(c.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(c.t, err)
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(append([]string{}, c.env...), "TENANTRY_ADDR="+c.addrOf(name))
	if name == "projector-1" {
		cmd.Env = append(cmd.Env, "TENANTRY_METRICS_ADDR="+c.metricsAddr)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(c.t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan struct{})}
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
}

func (c *cluster) addrOf(name string) string {
	for i, n := range []string{"api-1", "api-2"} {
		if name == n {
			return strings.TrimPrefix(c.apis[i], "http://")
		}
	}
	return "127.0.0.1:0"
}

func (c *cluster) kill(name string) {
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	require.NoError(c.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done // Wait runs in start's goroutine
}

// stop ends the named process as a deployment would (SIGTERM) and waits for it.
func (c *cluster) stop(name string) {
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	require.NoError(c.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s did not stop within 30 s of SIGTERM; logs in %s", name, c.dir)
	}
}

func (c *cluster) pid(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[name].cmd.Process.Pid
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	expired := false
	for _, p := range c.procs {
		if !expired {
			select {
			case <-p.done:
				continue
			case <-deadline.C:
				expired = true
			}
		}
		_ = p.cmd.Process.Kill() // harmless when it has exited meanwhile
		<-p.done
	}
}

// meterProxy records the meter events sent to stripe-mock.
type meterProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []meterSent
}

type meterSent struct {
	Identifier, Key, Customer string
	Value, Timestamp          int64
}

func newMeterProxy(t *testing.T, base string) *meterProxy {
	p := &meterProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		resBody, _ := io.ReadAll(res.Body)
		if r.URL.Path == "/v1/billing/meter_events" && res.StatusCode == http.StatusOK {
			f, _ := url.ParseQuery(string(body))
			v, _ := strconv.ParseInt(f.Get("payload[value]"), 10, 64)
			ts, _ := strconv.ParseInt(f.Get("timestamp"), 10, 64)
			p.mu.Lock()
			p.events = append(p.events, meterSent{Identifier: f.Get("identifier"), Key: r.Header.Get("Idempotency-Key"),
				Customer: f.Get("payload[stripe_customer_id]"), Value: v, Timestamp: ts})
			p.mu.Unlock()
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(resBody)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func TestCluster_SurvivesKilledReplicasWithNothingLostOrDoubled(t *testing.T) {
	natsURL, redisURL, stripeBase := os.Getenv("NATS_URL"), os.Getenv("REDIS_URL"), os.Getenv("STRIPE_API_BASE")
	require.True(t, natsURL != "" && redisURL != "" && stripeBase != "", "run with `make test` (NATS, Redis and stripe-mock)")
	db := pgtest.New(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "tenantry")
	build := exec.Command("go", "build", "-o", bin, binaryPackage)
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	proxy := newMeterProxy(t, stripeBase)
	const operator = "cluster-operator-token"
	c := &cluster{t: t, bin: bin, dir: dir, procs: map[string]*proc{}, proxy: proxy,
		apis: []string{"http://" + freeAddr(t), "http://" + freeAddr(t)}, metricsAddr: freeAddr(t),
		env: append(os.Environ(), "DATABASE_URL="+db.SuperURL, "TENANTRY_APP_DATABASE_URL=", "TENANTRY_WORKER_DATABASE_URL=", "TENANTRY_BUS=nats", "NATS_URL="+natsURL,
			"TENANTRY_CLUSTER=test-"+hex.EncodeToString(suffix), "REDIS_URL="+redisURL, "TENANTRY_OPERATOR_TOKEN="+operator,
			"STRIPE_API_KEY=sk_test_123", "STRIPE_API_BASE="+proxy.srv.URL, "TENANTRY_BILLING_INTERVAL=2s",
			"TENANTRY_BILLING_SETTLE=1s", "LOG_FORMAT=json", "TENANTRY_PLAN_LIMITS=pro.rps=100000,pro.burst=100000",
			"TENANTRY_DB_MAX_CONNS=12")}
	t.Cleanup(c.stopAll)
	t.Cleanup(func() { // the test's stream goes with it
		if nc, err := nats.Connect(natsURL); err == nil {
			if js, err := nc.JetStream(); err == nil {
				_ = js.DeleteStream(strings.ToUpper("TEST_"+hex.EncodeToString(suffix)) + "_EVENTS")
			}
			nc.Close()
		}
	})
	for _, name := range []string{"projector-1", "projector-2", "worker-1", "worker-2"} {
		c.start(name, strings.SplitN(name, "-", 2)[0])
	}
	c.start("api-1", "api")
	c.start("api-2", "api")
	for _, api := range c.apis {
		waitReady(t, api, dir)
	}

	post := func(api, path, token string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", api+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}

	// 100 tenants, created through both API replicas.
	const tenants, perTenant, batch = 100, 100, 10
	ids := make([]uuid.UUID, tenants)
	keys := make([]string, tenants)
	for i := 0; i < tenants; i++ {
		status, m := post(c.apis[i%2], "/v1/tenants", operator, map[string]any{"name": fmt.Sprintf("Cluster %d", i),
			"slug": fmt.Sprintf("cluster-%d", i), "plan": "pro", "admin_email": fmt.Sprintf("a%d@cluster.example", i)})
		require.Equal(t, http.StatusCreated, status, "%v", m)
		ids[i] = uuid.MustParse(m["tenant"].(map[string]any)["id"].(string))
		keys[i] = m["api_key"].(map[string]any)["key"].(string)
	}
	// Every tenth tenant also has a pending invitation and a second API key, so the
	// invitations and api_keys read models hold more than the admin's key.
	for i := 0; i < tenants; i += 10 {
		status, m := post(c.apis[i%2], "/v1/members", keys[i], map[string]any{"email": fmt.Sprintf("invited%d@cluster.example", i), "role": "viewer"})
		require.Equal(t, http.StatusCreated, status, "%v", m)
		status, m = post(c.apis[(i+1)%2], "/v1/api-keys", keys[i], map[string]any{"name": "ci", "role": "editor"})
		require.Equal(t, http.StatusCreated, status, "%v", m)
	}

	// 10,000 usage records, in batches through both replicas, from 8 clients. Part-way,
	// one projector, one worker and the active relay are killed and restarted.
	super := pgtest.Pool(t, db.SuperURL, 2)
	relayLeader := func() string {
		var app string
		_ = super.QueryRow(context.Background(), `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.classid = 7365712 AND l.objsubid = 2 AND l.granted AND a.datname = current_database()`).Scan(&app)
		return app
	}
	occurred := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var sent atomic.Int64
	jobs := make(chan [2]int)
	var wg sync.WaitGroup
	// A client that gives up reports it here and stops the others: the clients run off the
	// test goroutine, where require must not be called.
	clients, stopClients := context.WithCancel(context.Background())
	defer stopClients()
	clientErrs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if clients.Err() != nil {
					continue // another client failed: drain the jobs already handed out
				}
				tenant, part := j[0], j[1]
				var recs []map[string]any
				for k := 0; k < batch; k++ {
					n := part*batch + k
					recs = append(recs, map[string]any{"metric": "api_calls", "quantity": 1 + n%3,
						"occurred_at": occurred.Add(time.Duration(n%50) * time.Minute), "idempotency_key": fmt.Sprintf("rec-%d", n)})
				}
				for attempt := 0; ; attempt++ { // a client retries; idempotency keys make that safe
					status, _ := post(c.apis[(tenant+part+attempt)%2], "/v1/usage", keys[tenant], map[string]any{"records": recs})
					if status == http.StatusAccepted {
						sent.Add(1)
						break
					}
					if attempt >= 20 {
						clientErrs <- fmt.Errorf("usage POST for tenant %d, part %d kept failing: last status %d", tenant, part, status)
						stopClients()
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	killed := false
feed:
	for part := 0; part < perTenant/batch; part++ {
		for tenant := 0; tenant < tenants; tenant++ {
			select {
			case jobs <- [2]int{tenant, part}:
			case <-clients.Done():
				break feed
			}
		}
		if part == 3 && !killed {
			killed = true
			leader := relayLeader()
			require.NotEmpty(t, leader, "a relay holds the lease")
			c.kill("projector-1")
			c.kill("worker-1")
			leaderIsSecond := leader == fmt.Sprintf("tenantry-%d", c.pid("projector-2"))
			if leaderIsSecond { // projector-1 was not the active relay: kill the one that is
				c.kill("projector-2")
			}
			c.start("projector-1", "projector")
			c.start("worker-1", "worker")
			if leaderIsSecond {
				c.start("projector-2", "projector")
			}
		}
	}
	close(jobs)
	wg.Wait()
	close(clientErrs)
	for err := range clientErrs {
		t.Errorf("%v; logs in %s", err, dir)
	}
	if t.Failed() {
		t.FailNow()
	}
	require.Equal(t, int64(tenants*perTenant/batch), sent.Load())

	// Every event is there once, every chain verifies, the read models catch up.
	app := pgtest.Pool(t, db.AppURL, 4)
	store := eventstore.New(app)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	ctx := context.Background()
	for _, id := range ids {
		events, err := store.ReadStream(ctx, id, usage.StreamID, 1, 10000)
		require.NoError(t, err)
		require.Len(t, events, perTenant/batch, "tenant %s: usage events, one per request", id)
		seen := map[string]bool{}
		for i := range events {
			p, err := reg.DecodeEvent(&events[i])
			require.NoError(t, err)
			recs, ok := usage.Records(p)
			require.True(t, ok, events[i].Type)
			for _, r := range recs {
				require.False(t, seen[r.IdempotencyKey.String()], "record %s stored twice", r.IdempotencyKey)
				seen[r.IdempotencyKey.String()] = true
			}
		}
		require.Len(t, seen, perTenant, "tenant %s: usage records", id)
		rep, err := store.VerifyChain(ctx, id)
		require.NoError(t, err)
		require.True(t, rep.OK, "%+v", rep)
	}
	caughtUp := func() {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, id := range ids {
				head, projected, err := eventstore.New(app).Progress(ctx, id)
				if err != nil || projected != head {
					return false
				}
			}
			return true
		}, 2*time.Minute, 200*time.Millisecond, "read models caught up; logs in %s", dir)
	}
	caughtUp()

	// A projector replica serves its own metrics.
	res, err := http.Get("http://" + c.metricsAddr + "/metrics")
	require.NoError(t, err)
	metricsBody, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(metricsBody), "tenantry_projection_events_total")

	// Each API replica runs the heap floor (its live heap is a few MiB: with Go's default
	// pacing it would collect several times a second under load); the projector keeps
	// Go's default pacing.
	gcPercent := func(url string) float64 {
		res, err := http.Get(url + "/metrics")
		require.NoError(t, err)
		defer res.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(res.Body)
		require.NoError(t, err)
		gogc := families["go_gc_gogc_percent"]
		require.NotNil(t, gogc, "%s/metrics has no go_gc_gogc_percent", url)
		return gogc.GetMetric()[0].GetGauge().GetValue()
	}
	if os.Getenv("GOGC") == "" { // an operator's GOGC turns the floor off
		for _, api := range c.apis {
			require.Greater(t, gcPercent(api), 100.0, "%s runs the heap floor", api)
		}
		require.Equal(t, 100.0, gcPercent("http://"+c.metricsAddr), "the projector paces as Go does")
	}

	// Stripe was told each window exactly once: per customer and window, the distinct
	// identifiers' values add up to the usage recorded, and a repeated identifier was a
	// byte-for-byte retry.
	require.Eventually(t, func() bool {
		cmd := exec.Command(bin, "billing", "reconcile", "--check")
		cmd.Env = c.env
		return cmd.Run() == nil
	}, 2*time.Minute, time.Second, "every window reported; logs in %s", dir)

	// Read models equal a rebuild from the events: every table of every tenant's schema,
	// billing and usage_reported included (the killed worker's events go there). The
	// workers stop first, so no event arrives between the two snapshots.
	c.stop("worker-1")
	c.stop("worker-2")
	caughtUp()
	snapshot := func() map[uuid.UUID]string {
		out := map[uuid.UUID]string{}
		for _, id := range ids {
			var s string
			require.NoError(t, eventstore.InTenant(ctx, app, id, true, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
					WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 1`)
				if err != nil {
					return err
				}
				tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					return err
				}
				if len(tables) < 8 {
					return fmt.Errorf("tenant %s: only tables %v", id, tables)
				}
				var parts []string
				for _, tbl := range tables {
					q := pgx.Identifier{tbl}.Sanitize()
					parts = append(parts, `(SELECT '`+tbl+`=' || coalesce(string_agg(x::text, ';' ORDER BY x::text), '') FROM `+q+` x)`)
				}
				return tx.QueryRow(ctx, `SELECT concat_ws('|', `+strings.Join(parts, ", ")+`)`).Scan(&s)
			}))
			out[id] = s
		}
		return out
	}
	before := snapshot()
	for _, want := range []string{"api_keys=", "invitations=", "billing=", "usage_reported=", "members=", "profile=", "usage_hourly=", "usage_daily="} {
		require.Contains(t, before[ids[0]], want, "the snapshot covers every read model")
	}
	require.Contains(t, before[ids[0]], "cus_", "the billing read model links the Stripe customer")
	require.Contains(t, before[ids[0]], "invited0@cluster.example", "the invitation is in the snapshot")
	rebuild := exec.Command(bin, "projections", "rebuild", "--all")
	rebuild.Env = c.env
	out, err = rebuild.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, before, snapshot(), "every read model equals a rebuild")

	proxy.mu.Lock()
	events := append([]meterSent{}, proxy.events...)
	proxy.mu.Unlock()
	first := map[string]meterSent{}
	counted := map[string]int64{}
	for _, e := range events {
		if f, ok := first[e.Identifier]; ok {
			require.Equal(t, f, e, "identifier %s sent twice with different contents", e.Identifier)
			continue
		}
		first[e.Identifier] = e
		counted[fmt.Sprintf("%s@%d", e.Customer, e.Timestamp)] += e.Value
	}
	recorded := map[string]int64{}
	for _, id := range ids {
		var entry eventstore.TenantEntry
		require.Eventually(t, func() bool { // a killed directory member's messages are redelivered
			entry, err = eventstore.New(app).FindTenant(ctx, id.String())
			return err == nil && entry.StripeCustomerID != ""
		}, time.Minute, 50*time.Millisecond, "the directory links tenant %s to its Stripe customer", id)
		require.NoError(t, eventstore.New(app).InTenant(ctx, id, true, func(tx *eventstore.Tx) error {
			points, err := tx.UsageSeries(ctx, "", time.Time{}, time.Now().Add(-time.Hour).Truncate(time.Hour), false)
			for _, p := range points {
				recorded[fmt.Sprintf("%s@%d", entry.StripeCustomerID, p.Start.Unix())] += p.Quantity
			}
			return err
		}))
	}
	require.Equal(t, recorded, counted, "Stripe's view equals the recorded usage")
}
