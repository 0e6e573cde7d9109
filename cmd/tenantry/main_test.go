package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func run(t *testing.T, ctx context.Context, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(func(k string) string { return env[k] }, &out, &errOut)
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
	store := eventstore.New(pool)
	notifier := eventstore.NewNotifier(pool, 0, slog.New(slog.DiscardHandler))
	store.SetNotifier(notifier)
	go func() { _ = notifier.Run(ctx) }()
	reg, err := eventstore.DomainRegistry()
	require.NoError(t, err)
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
	_, err = run(t, context.Background(), env, "projections", "rebuild", "--tenant", "acme")
	require.ErrorContains(t, err, "is not a tenant id")
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
		"LOG_FORMAT":                 "yaml",
		"LOG_LEVEL":                  "loud",
		"TENANTRY_EVENT_PARTITIONS":  "0",
		"TENANTRY_DB_MAX_CONNS":      "many",
		"TENANTRY_DB_MAX_CONN_USES":  "-1",
		"TENANTRY_SIGNUP":            "sometimes",
		"TENANTRY_OPERATOR_TOKEN":    "short",
		"TENANTRY_PLAN_LIMITS":       "gold.rps=1",
		"STRIPE_API_BASE":            "ftp://stripe",
		"TENANTRY_STRIPE_PRICES":     "gold=price_1",
		"TENANTRY_STRIPE_METERS":     "Bad Metric=x",
		"TENANTRY_STRIPE_RPS":        "0",
		"TENANTRY_BILLING_GRACE":     "a week",
		"TENANTRY_AUDIT_SIGNING_KEY": "not-a-key",
		"TENANTRY_BUS":               "kafka",
		"TENANTRY_TRUSTED_PROXIES":   "10.0.0.0/8,not-a-cidr",
		"TENANTRY_HTTP_IDLE_TIMEOUT": "soon",
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
}

// SIGTERM (here: the command's context ending, as signal.NotifyContext does) drains the
// requests in flight: each one started is answered in full.
func TestServe_DrainsInFlightRequestsOnShutdown(t *testing.T) {
	db := pgtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	token := "drain-test-operator-token"
	env := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_ADDR": addr, "LOG_FORMAT": "json", "TENANTRY_OPERATOR_TOKEN": token}
	ctx, cancel := context.WithCancel(context.Background())
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

	post := func(path, key, body string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(req)
	}
	resp, err := post("/v1/tenants", token, `{"name": "Drain", "slug": "drain-test", "plan": "enterprise", "admin_email": "a@example.com"}`)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	key := between(string(b), `"key":"`, `"`)

	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, 16)
	for i := 0; i < 16; i++ {
		go func(i int) {
			var recs []string
			for j := 0; j < 1000; j++ {
				recs = append(recs, fmt.Sprintf(`{"metric":"api_calls","quantity":1,"idempotency_key":"d-%d-%d"}`, i, j))
			}
			resp, err := post("/v1/usage", key, `{"records":[`+strings.Join(recs, ",")+`]}`)
			if err != nil {
				results <- result{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{status: resp.StatusCode, body: string(b), err: err}
		}(i)
	}
	// Shut down as soon as the first answer arrives: the server is busy then, with the
	// others in flight (a fixed sleep was too short on a loaded machine).
	first := <-results
	cancel()
	answered := 0
	for i := 0; i < 16; i++ {
		r := first
		if i > 0 {
			r = <-results
		}
		if r.err != nil {
			continue // never reached the server (refused, or raced the close of an idle connection)
		}
		require.Equal(t, http.StatusAccepted, r.status, r.body)
		require.Contains(t, r.body, `"accepted":1000`)
		answered++
	}
	require.Positive(t, answered)
	require.NoError(t, <-done)
	// Every request the server worked on was answered: no batch was written whose answer was
	// cut off.
	super := pgtest.Pool(t, db.SuperURL, 1)
	var stored, claimed int
	require.NoError(t, super.QueryRow(context.Background(), `SELECT coalesce(sum(jsonb_array_length(data->'records')), 0)
		FROM tenantry.events WHERE event_type = 'usage.batch_recorded'`).Scan(&stored))
	require.Equal(t, answered*1000, stored)
	require.NoError(t, super.QueryRow(context.Background(), `SELECT count(*) FROM tenantry.event_keys`).Scan(&claimed))
	require.Equal(t, answered*1000, claimed)
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
