package platform

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func run(t *testing.T, ctx context.Context, env map[string]string, args ...string) (string, error) {
	t.Helper()
	// Locked: a library goroutine of the process (the in-process bus delivering its last
	// message) may still log after the command returned and its output was read.
	var out, errOut lockedBuffer
	root := NewCommand(func(k string) string { return env[k] }, &out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String() + errOut.String(), err
}

func TestMigrate_RunsTwiceAndServeRefusesASuperuser(t *testing.T) {
	db := pgtest.New(t)
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json"}
	for i := 0; i < 2; i++ {
		out, err := run(t, context.Background(), env, "migrate")
		require.NoError(t, err, out)
		require.Contains(t, out, `"applied":0`)
		require.Contains(t, out, `"tenant schemas migrated"`)
	}

	out, err := run(t, context.Background(), env, "migrate", "--tenants-only", "--concurrency", "2")
	require.NoError(t, err, out)
	_, err = run(t, context.Background(), env, "migrate", "--concurrency", "0")
	require.ErrorContains(t, err, "--concurrency")

	env["TENANTRY_APP_DATABASE_URL"] = db.SuperURL
	_, err = run(t, context.Background(), env, "serve")
	require.ErrorContains(t, err, "refusing to start")
	require.ErrorContains(t, err, "is a superuser")
}

// Each process connects each component as the role of its purpose and refuses to start
// otherwise: an API given the worker's login, a projector given the API's, and a worker
// URL that is a superuser's are each named in the error, before anything listens.
func TestServe_RefusesARuntimeURLOfTheWrongRole(t *testing.T) {
	db := pgtest.New(t)
	// A process that wrongly starts would serve until the deadline, then fail the test.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json", "TENANTRY_BUS": "nats", "TENANTRY_ADDR": "127.0.0.1:0"}
	with := func(k, v string) map[string]string {
		env := map[string]string{k: v}
		for bk, bv := range base {
			env[bk] = bv
		}
		return env
	}
	_, err := run(t, ctx, with("TENANTRY_APP_DATABASE_URL", db.WorkerURL), "api")
	require.ErrorContains(t, err, "refusing to start: TENANTRY_APP_DATABASE_URL")
	require.ErrorContains(t, err, "cross-tenant")

	_, err = run(t, ctx, with("TENANTRY_WORKER_DATABASE_URL", db.AppURL), "projector")
	require.ErrorContains(t, err, "refusing to start: TENANTRY_WORKER_DATABASE_URL")

	_, err = run(t, ctx, with("TENANTRY_WORKER_DATABASE_URL", db.SuperURL), "serve")
	require.ErrorContains(t, err, "refusing to start: TENANTRY_WORKER_DATABASE_URL")
	require.ErrorContains(t, err, "is a superuser")
}

func TestServe_AnswersHealthAndReadiness(t *testing.T) {
	db := pgtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	env := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_ADDR": addr, "LOG_FORMAT": "json", "STRIPE_WEBHOOK_SECRET": "whsec_serve"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := run(t, ctx, env, "serve"); done <- err }()

	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
	require.Contains(t, body, "ready")

	// An event appended by another process reaches the read models through NOTIFY, the
	// relay, the bus and the projector.
	pool := pgtest.Pool(t, db.AppURL, 2)
	notifier := eventstore.NewNotifier(pool, 0, slog.New(slog.DiscardHandler))
	store, err := eventstore.NewStore(pool, eventstore.StoreConfig{Notifier: notifier})
	require.NoError(t, err)
	go func() { _ = notifier.Run(ctx) }()
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	id := appendTenant(t, store, reg, "serve-test", domain.PlanFree)
	require.NoError(t, eventstore.New(pool).WaitFor(ctx, id, 1, 60*time.Second))
	require.Eventually(t, func() bool {
		entry, err := eventstore.New(pool).FindTenant(ctx, "serve-test")
		return err == nil && entry.ID == id
	}, 60*time.Second, 20*time.Millisecond, "the tenant directory follows")

	out, err := run(t, context.Background(), env, "projections", "rebuild", "--tenant", id.String())
	require.NoError(t, err, out)
	out, err = run(t, context.Background(), env, "projections", "rebuild", "--all")
	require.NoError(t, err, out)
	require.Contains(t, out, "all tenants rebuilt")
	out, err = run(t, context.Background(), env, "projections", "rebuild", "--tenant", "serve-test")
	require.NoError(t, err, "by slug as by id: %s", out)
	_, err = run(t, context.Background(), env, "projections", "rebuild", "--tenant", "acme")
	require.ErrorContains(t, err, "tenant not found")
	require.Equal(t, 2, exitCode(err), "a tenant no one has is a usage error")
	_, err = run(t, context.Background(), env, "projections", "rebuild")
	require.ErrorContains(t, err, "exactly one of")

	// Without STRIPE_API_KEY the billing worker is off, but Stripe webhooks are still applied.
	ne, err := reg.Encode(billing.CustomerLinked{CustomerID: "cus_serve", SubscriptionID: "sub_serve", SubscriptionItemID: "si_serve",
		Plan: domain.PlanFree, PriceID: "price_tenantry_free"}, eventstore.Metadata{Actor: "test"})
	require.NoError(t, err)
	_, err = store.Append(ctx, id, billing.AccountStreamID, eventstore.NoStream, ne)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		entry, err := eventstore.New(pool).FindTenantByCustomer(ctx, "cus_serve")
		return err == nil && entry.ID == id
	}, 60*time.Second, 20*time.Millisecond)
	payload := fmt.Sprintf(`{"id":"evt_serve","object":"event","type":"invoice.payment_failed","created":%d,"api_version":"2023-10-16",
		"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_serve","subscription":"sub_serve","status":"open"}}}`, time.Now().Unix())
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(payload), Secret: "whsec_serve", Timestamp: time.Now()})
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/webhooks/stripe", strings.NewReader(payload))
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"outcome":"applied"`)

	cancel()
	require.NoError(t, <-done, "graceful shutdown on cancel")
}

func TestCommands_FailClearlyWithoutADatabase(t *testing.T) {
	// A port where nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	dead := fmt.Sprintf("postgres://root@127.0.0.1:%d/tenantry?sslmode=disable&connect_timeout=2", port)

	_, err = run(t, context.Background(), map[string]string{"DATABASE_URL": dead}, "migrate")
	require.ErrorContains(t, err, "connect for migrate")
	_, err = run(t, context.Background(), map[string]string{"DATABASE_URL": dead}, "serve")
	require.ErrorContains(t, err, "connect as runtime role")
	_, err = run(t, context.Background(), map[string]string{}, "migrate")
	require.ErrorContains(t, err, "DATABASE_URL is not set")
}

func TestConfig_NamesTheBadSetting(t *testing.T) {
	cases := map[string]string{
		"LOG_FORMAT":                   "yaml",
		"LOG_LEVEL":                    "loud",
		"TENANTRY_EVENT_PARTITIONS":    "0",
		"TENANTRY_DB_MAX_CONNS":        "many",
		"TENANTRY_DB_MAX_CONN_USES":    "-1",
		"TENANTRY_SIGNUP":              "sometimes",
		"TENANTRY_OPERATOR_TOKEN":      "short",
		"TENANTRY_INTROSPECTION_TOKEN": "short",
		"TENANTRY_PLAN_LIMITS":         "gold.rps=1",
		"STRIPE_API_BASE":              "ftp://stripe",
		"TENANTRY_STRIPE_PRICES":       "gold=price_1",
		"TENANTRY_STRIPE_METERS":       "Bad Metric=x",
		"TENANTRY_STRIPE_RPS":          "0",
		"TENANTRY_BILLING_GRACE":       "a week",
		"TENANTRY_AUDIT_SIGNING_KEY":   "not-a-key",
		"TENANTRY_BUS":                 "kafka",
		"TENANTRY_TRUSTED_PROXIES":     "10.0.0.0/8,not-a-cidr",
		"TENANTRY_HTTP_IDLE_TIMEOUT":   "soon",
		"TENANTRY_GROUP_COMMITTERS":    "65",
		"TENANTRY_GC_HEAP_FLOOR":       "-1",
	}
	for k, v := range cases {
		_, err := loadConfig(func(name string) string {
			if name == k {
				return v
			}
			return ""
		})
		require.Error(t, err, k)
		require.True(t, strings.Contains(err.Error(), k), "%s: %v", k, err)
	}
	c, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, 16, c.Partitions)
	require.Equal(t, 4, c.GroupCommitters)
	require.Equal(t, 64, c.GCHeapFloorMiB)
	for env, want := range map[string]int{"TENANTRY_GC_HEAP_FLOOR=0": 0, "TENANTRY_GC_HEAP_FLOOR=256": 256, "GOGC=200": 0} {
		name, value, _ := strings.Cut(env, "=")
		c, err := loadConfig(func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		require.NoError(t, err)
		require.Equal(t, want, c.GCHeapFloorMiB, "%s: GOGC set by the operator turns the floor off", env)
	}
}

// SIGTERM (here: the command's context ending, as signal.NotifyContext does) drains the
// requests in flight: the listener closes at once, so new connections are refused, and each
// request the server was already working on is answered in full.
//
// The requests are held in flight deterministically: each sends its headers with
// "Expect: 100-continue" and waits for the server's "100 Continue", which the server sends
// only once the handler reads the body; the body follows only after shutdown has begun.
// Each tenant works on at most max(2, GOMAXPROCS) requests at once (its fairness slots; the
// server runs in this process), so that many are held per tenant, for two tenants.
func TestServe_DrainsInFlightRequestsOnShutdown(t *testing.T) {
	db := pgtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	token := "drain-test-operator-token"
	env := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_ADDR": addr, "LOG_FORMAT": "json", "TENANTRY_OPERATOR_TOKEN": token}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := run(t, ctx, env, "serve"); done <- err }()
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)

	var keys []string
	for _, slug := range []string{"drain-one", "drain-two"} {
		req, err := http.NewRequest("POST", base+"/v1/tenants", strings.NewReader(
			`{"name": "Drain", "slug": "`+slug+`", "plan": "enterprise", "admin_email": "a@example.com"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
		keys = append(keys, between(string(b), `"key":"`, `"`))
	}

	const records = 200
	perTenant := max(2, runtime.GOMAXPROCS(0))
	var held []*heldRequest
	for i, key := range keys {
		for j := 0; j < perTenant; j++ {
			var recs []string
			for k := 0; k < records; k++ {
				recs = append(recs, fmt.Sprintf(`{"metric":"api_calls","quantity":1,"idempotency_key":"d-%d-%d-%d"}`, i, j, k))
			}
			held = append(held, holdRequest(t, addr, "/v1/usage", key, `{"records":[`+strings.Join(recs, ",")+`]}`))
		}
	}

	cancel() // shutdown begins with every held request in the handler
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "new connections are refused once shutdown begins")
	select {
	case err := <-done:
		t.Fatalf("serve returned with requests in flight: %v", err)
	default:
	}
	for _, h := range held {
		h.send(t)
	}
	for i, h := range held {
		status, body := h.answer(t)
		require.Equal(t, http.StatusAccepted, status, "held request %d: %s", i, body)
		require.Contains(t, body, fmt.Sprintf(`"accepted":%d`, records), "held request %d", i)
	}
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after draining")
	}
	// Every request was stored once, and nothing else.
	super := pgtest.Pool(t, db.SuperURL, 1)
	var stored, claimed int
	require.NoError(t, super.QueryRow(context.Background(), `SELECT coalesce(sum(jsonb_array_length(data->'records')), 0)
		FROM tenantry.events WHERE event_type = 'usage.batch_recorded'`).Scan(&stored))
	require.Equal(t, len(held)*records, stored)
	require.NoError(t, super.QueryRow(context.Background(), `SELECT count(*) FROM tenantry.event_keys`).Scan(&claimed))
	require.Equal(t, len(held)*records, claimed)
}

// heldRequest is a POST on a connection of its own whose handler is reading its body, which
// the client has not sent yet.
type heldRequest struct {
	conn net.Conn
	br   *bufio.Reader
	body string
}

// holdRequest sends the request's headers with "Expect: 100-continue" and returns once the
// server answered "100 Continue": its handler is then waiting for the body.
func holdRequest(t *testing.T, addr, path, key, body string) *heldRequest {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, addr, key, len(body))
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", status, "the handler reads the body")
	blank, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "\r\n", blank)
	return &heldRequest{conn: conn, br: br, body: body}
}

// send writes the held request's body.
func (h *heldRequest) send(t *testing.T) {
	t.Helper()
	_, err := io.WriteString(h.conn, h.body)
	require.NoError(t, err, "the connection of a request in flight stays open")
}

// answer reads the held request's response; a transport error fails the test.
func (h *heldRequest) answer(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(h.br, nil)
	require.NoError(t, err, "a request in flight is answered")
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "a request in flight is answered in full")
	return resp.StatusCode, string(b)
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

// appendTenant appends a tenant.created for a new tenant with slug, straight to the store
// (as another process's API would), and returns its id.
func appendTenant(t *testing.T, store *eventstore.Store, reg *eventstore.Registry, slugText string, plan domain.PlanName) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	slug, err := domain.ParseSlug(slugText)
	require.NoError(t, err)
	created, err := tenant.Create(id, "Tenant "+slugText, slug, plan, time.Now())
	require.NoError(t, err)
	ne, err := reg.Encode(created[0], eventstore.Metadata{Actor: "test"})
	require.NoError(t, err)
	_, err = store.Append(context.Background(), id, tenant.StreamID, eventstore.NoStream, ne)
	require.NoError(t, err)
	return id
}
