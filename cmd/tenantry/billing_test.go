package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func TestWorkerOnce_PushesUsageAndReconcileBalances(t *testing.T) {
	base := os.Getenv("STRIPE_API_BASE")
	require.NotEmpty(t, base, "run with `make test`, which starts stripe-mock")
	db := pgtest.New(t)
	ctx := startServe(t, db)
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json", "STRIPE_API_KEY": "sk_test_123", "STRIPE_API_BASE": base}
	_, err := run(t, ctx, map[string]string{"DATABASE_URL": db.SuperURL}, "worker", "--once")
	require.ErrorContains(t, err, "STRIPE_API_KEY is not set")

	pool := pgtest.Pool(t, db.AppURL, 4)
	store := eventstore.New(pool)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	id := appendTenant(t, store, reg, "billed", domain.PlanPro)
	record := func(key string, at time.Time) {
		m, _ := usage.ParseMetric("api_calls")
		q, _ := usage.NewQuantity(5)
		k, _ := usage.ParseIdempotencyKey(key)
		ne, err := reg.Encode(usage.Recorded{Metric: m, Quantity: q, OccurredAt: at.UTC(), IdempotencyKey: k}, eventstore.Metadata{})
		require.NoError(t, err)
		ne.ID = usage.RecordEventID(id, k)
		res, err := store.Append(ctx, id, usage.StreamID, eventstore.Any, ne)
		require.NoError(t, err)
		require.NoError(t, eventstore.New(pool).WaitFor(ctx, id, res.LastSeq, time.Minute))
	}
	require.Eventually(t, func() bool { _, err := eventstore.New(pool).FindTenant(ctx, "billed"); return err == nil }, time.Minute, 10*time.Millisecond)
	record("a", time.Now().Add(-2*time.Hour))

	out, err := run(t, ctx, env, "billing", "reconcile", "--tenant", "billed", "--check")
	require.ErrorContains(t, err, "not yet reported", out)
	out, err = run(t, ctx, env, "worker", "--once")
	require.NoError(t, err, out)
	require.Contains(t, out, "provisioned 1, windows reported 1")
	out, err = run(t, ctx, env, "billing", "reconcile", "--tenant", "billed", "--check")
	require.NoError(t, err, out)
	require.Regexp(t, `billed\s+api_calls\s+\d{4}-\d{2}\s+5\s+5\s+0\s+0`, out)

	record("b", time.Now().Add(-2*time.Hour)) // late usage for the reported window
	_, err = run(t, ctx, env, "billing", "reconcile", "--check")
	require.Error(t, err)
	out, err = run(t, ctx, env, "worker", "--once")
	require.NoError(t, err, out)
	require.Contains(t, out, "windows reported 1")
	out, err = run(t, ctx, env, "billing", "reconcile", "--check")
	require.NoError(t, err, out)
	require.Regexp(t, `billed\s+api_calls\s+\d{4}-\d{2}\s+10\s+10\s+0\s+0`, out)

	_, err = run(t, ctx, env, "billing", "reconcile", "--tenant", "no-such-tenant")
	require.ErrorContains(t, err, "not found")
	_, err = run(t, ctx, map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_STRIPE_PRICES": "gold=price_x"}, "worker", "--once")
	require.ErrorContains(t, err, "TENANTRY_STRIPE_PRICES")
}

// startServe runs `serve` on db (the projector and directory the CLI reads through; no
// billing worker, no Stripe key) until the test ends.
func startServe(t *testing.T, db *pgtest.DB) context.Context {
	t.Helper()
	ctx, _ := startServeEnv(t, db, nil)
	return ctx
}

// startServeEnv is startServe with more environment; it also returns the address.
func startServeEnv(t *testing.T, db *pgtest.DB, extra map[string]string) (context.Context, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	serveEnv := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_ADDR": addr, "LOG_FORMAT": "json"}
	for k, v := range extra {
		serveEnv[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := run(t, ctx, serveEnv, "serve"); done <- err }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)
	return ctx, addr
}
