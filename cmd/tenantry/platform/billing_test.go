package platform

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	tapp "github.com/tenantry/tenantry/domain/app"
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
	require.Regexp(t, `billed\s+api_calls\s+\d{4}-\d{2}-01T00:00:00Z\s+5\s+5\s+0\s+0`, out)

	record("b", time.Now().Add(-2*time.Hour)) // late usage for the reported window
	_, err = run(t, ctx, env, "billing", "reconcile", "--check")
	require.Error(t, err)
	out, err = run(t, ctx, env, "worker", "--once")
	require.NoError(t, err, out)
	require.Contains(t, out, "windows reported 1")
	out, err = run(t, ctx, env, "billing", "reconcile", "--check")
	require.NoError(t, err, out)
	require.Regexp(t, `billed\s+api_calls\s+\d{4}-\d{2}-01T00:00:00Z\s+10\s+10\s+0\s+0`, out)

	// --json: one object per line of the table, the tenant then the line as GET /v1/billing
	// gives it; --check still decides the exit status.
	out, err = run(t, ctx, env, "billing", "reconcile", "--tenant", "billed", "--check", "--json")
	require.NoError(t, err, out)
	first := strings.SplitN(out, "\n", 2)[0]
	require.Equal(t, []string{"tenant_id:string", "tenant:string", "metric:string", "period:string", "recorded:json.Number",
		"reported:json.Number", "difference:json.Number", "unreported_windows:json.Number", "in_progress:json.Number"}, jsonShape(t, first), out)
	var line struct {
		TenantID string    `json:"tenant_id"`
		Tenant   string    `json:"tenant"`
		Period   time.Time `json:"period"`
		Recorded int64     `json:"recorded"`
		Reported int64     `json:"reported"`
	}
	require.NoError(t, json.Unmarshal([]byte(first), &line))
	require.Equal(t, id.String(), line.TenantID)
	require.Equal(t, "billed", line.Tenant)
	require.Equal(t, int64(10), line.Recorded)
	require.Equal(t, int64(10), line.Reported)
	require.Zero(t, line.Period.Day()-1, "a period is the start of its month, RFC 3339")

	// --period picks one month, written as every time is (RFC 3339): the month's first instant.
	period := line.Period.UTC().Format(time.RFC3339)
	out, err = run(t, ctx, env, "billing", "reconcile", "--tenant", id.String(), "--period", period, "--json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"period":"`+period+`"`)
	out, err = run(t, ctx, env, "billing", "reconcile", "--tenant", "billed", "--period", line.Period.AddDate(-1, 0, 0).UTC().Format(time.RFC3339), "--json")
	require.NoError(t, err, out)
	require.Empty(t, strings.TrimSpace(out), "no usage a year before")
	_, err = run(t, ctx, env, "billing", "reconcile", "--period", line.Period.Format("2006-01"))
	require.Equal(t, 2, exitCode(err), "the old YYYY-MM is a usage error: %v", err)
	require.ErrorContains(t, err, tapp.PeriodExample, "the message shows the accepted form")

	out, err = run(t, ctx, env, "worker", "--once", "--json")
	require.NoError(t, err, out)
	require.Equal(t, []string{"tenants:json.Number", "busy:json.Number", "failed:json.Number", "provisioned:json.Number",
		"windows_reported:json.Number", "suspended:json.Number"}, jsonShape(t, strings.SplitN(out, "\n", 2)[0]), out)
	_, err = run(t, ctx, env, "worker", "--json")
	require.Equal(t, 2, exitCode(err), "--json without --once: %v", err)

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
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json"}
	for k, v := range extra {
		env[k] = v
	}
	s := launchServe(t, env)
	return s.ctx, s.addr
}

// The sums of `billing reconcile --json` are exact at any size, as GET /v1/billing gives
// them: numbers up to 2^53-1, strings of digits beyond (a double would round them); the
// line leads with its tenant.
func TestBillingReconcileJSON_SumsAreExact(t *testing.T) {
	beyond := new(big.Int).Lsh(big.NewInt(1), 53)
	tenant := eventstore.TenantEntry{ID: uuid.MustParse("0190c8a0-0000-7000-8000-000000000001"), Slug: "acme"}
	line := tapp.ReconLine{Metric: "api_calls", Period: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Recorded: beyond, Reported: big.NewInt(1<<53 - 1), Difference: new(big.Int).Neg(beyond), UnreportedWindows: 2}
	b, err := json.Marshal(newReconLineJSON(tenant, line))
	require.NoError(t, err)
	require.JSONEq(t, `{"tenant_id":"0190c8a0-0000-7000-8000-000000000001","tenant":"acme","metric":"api_calls",
		"period":"2026-12-01T00:00:00Z","recorded":"9007199254740992","reported":9007199254740991,
		"difference":"-9007199254740992","unreported_windows":2,"in_progress":0}`, string(b))
}
