package platform

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	tapp "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func TestAudit_ExportVerifyHeadAndReplay(t *testing.T) {
	db := pgtest.New(t)
	ctx := startServe(t, db)
	key := strings.Repeat("5e", 32)
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json", "TENANTRY_AUDIT_SIGNING_KEY": key}

	pool := pgtest.Pool(t, db.AppURL, 4)
	store := eventstore.New(pool)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	id := uuid.Must(uuid.NewV7())
	slug, _ := domain.ParseSlug("audited")
	cmd := tapp.Command[*tenant.Tenant]{Store: eventstore.DomainStore{Store: store, Registry: reg}, Tenant: id, Stream: tenant.StreamID,
		New: func() *tenant.Tenant { return &tenant.Tenant{} }}
	_, _, err := cmd.Run(ctx, func(*tenant.Tenant) ([]domain.Event, error) {
		return tenant.Create(id, "Audited", slug, domain.PlanPro, time.Now())
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := eventstore.New(pool).FindTenant(ctx, "audited"); return err == nil }, time.Minute, 10*time.Millisecond)
	beforeRename := time.Now()
	time.Sleep(10 * time.Millisecond)
	_, _, err = cmd.Run(ctx, func(t *tenant.Tenant) ([]domain.Event, error) { return t.Rename("Audited Twice", time.Now()) })
	require.NoError(t, err)

	dir := t.TempDir()
	pub, err := run(t, ctx, env, "audit", "head", "--public-key")
	require.NoError(t, err, pub)
	pub = strings.TrimSpace(pub)
	require.Len(t, pub, 64)

	out, err := run(t, ctx, env, "audit", "head", "--tenant", id.String())
	require.NoError(t, err, "by id as by slug: %s", out)
	out, err = run(t, ctx, env, "audit", "head", "--tenant", "audited")
	require.NoError(t, err, out)
	headFile := filepath.Join(dir, "head.json")
	require.NoError(t, os.WriteFile(headFile, []byte(out), 0o600))

	file := filepath.Join(dir, "export.ndjson")
	out, err = run(t, ctx, env, "audit", "export", "--tenant", "audited", "--out", file)
	require.NoError(t, err, out)

	// Offline: no database in the environment at all.
	offline := map[string]string{"LOG_FORMAT": "json"}
	out, err = run(t, ctx, offline, "audit", "verify", "--file", file, "--public-key", pub, "--head", headFile)
	require.NoError(t, err, out)
	var rep struct {
		OK     bool  `json:"ok"`
		Events int64 `json:"events"`
		Signed bool  `json:"signed"`
	}
	fileReport := strings.SplitN(out, "\n", 2)[0]
	require.NoError(t, json.Unmarshal([]byte(fileReport), &rep), out)
	require.True(t, rep.OK)
	require.True(t, rep.Signed)
	require.Equal(t, int64(2), rep.Events)

	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(b), "Audited Twice", "Audited Thrice", 1)), 0o600))
	out, err = run(t, ctx, offline, "audit", "verify", "--file", file, "--public-key", pub)
	require.ErrorContains(t, err, "hash at seq 2", out)
	require.Equal(t, 1, exitCode(err), "verification failed")

	out, err = run(t, ctx, env, "audit", "verify", "--tenant", "audited")
	require.NoError(t, err, out)
	require.Contains(t, out, `"ok":true`)
	tenantReport := strings.SplitN(out, "\n", 2)[0]
	require.Equal(t, jsonShape(t, fileReport), jsonShape(t, tenantReport), "--file and --tenant print one shape")
	require.Contains(t, tenantReport, `"events":2,`)
	out, err = run(t, ctx, env, "audit", "verify", "--tenant", id.String())
	require.NoError(t, err, out)
	require.Equal(t, tenantReport, strings.SplitN(out, "\n", 2)[0], "by id as by slug")
	_, err = run(t, ctx, env, "audit", "verify", "--tenant", uuid.NewString())
	require.Equal(t, 2, exitCode(err), "an id no tenant has: %v", err)

	out, err = run(t, ctx, env, "audit", "replay", "--tenant", "audited", "--as-of", beforeRename.UTC().Format(time.RFC3339Nano))
	require.NoError(t, err, out)
	require.Contains(t, out, `"name": "Audited"`)
	out, err = run(t, ctx, env, "audit", "replay", "--tenant", "audited")
	require.NoError(t, err, out)
	require.Contains(t, out, `"name": "Audited Twice"`)

	_, err = run(t, ctx, env, "audit", "replay", "--tenant", "audited", "--as-of", "yesterday")
	require.ErrorContains(t, err, "--as-of")
	_, err = run(t, ctx, offline, "audit", "verify", "--file", file, "--public-key", "nothex")
	require.ErrorContains(t, err, "--public-key")
	require.Equal(t, 2, exitCode(err), "no verdict")
	_, err = run(t, ctx, offline, "audit", "verify", "--file", filepath.Join(dir, "missing.ndjson"))
	require.Equal(t, 2, exitCode(err), "no verdict: %v", err)
	_, err = run(t, ctx, env, "audit", "verify", "--tenant", "no-such-tenant")
	require.Equal(t, 2, exitCode(err), "no verdict: %v", err)
	_, err = run(t, ctx, map[string]string{"TENANTRY_AUDIT_SIGNING_KEY": "short"}, "audit", "head", "--public-key")
	require.ErrorContains(t, err, "TENANTRY_AUDIT_SIGNING_KEY")
	require.NotContains(t, err.Error(), "short", "the key is never echoed")
}

func TestTenants_CreateAndList(t *testing.T) {
	db := pgtest.New(t)
	ctx := startServe(t, db)
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json"}
	out, err := run(t, ctx, env, "tenants", "create", "--name", "Listed", "--slug", "listed", "--plan", "pro", "--admin-email", "admin@listed.example")
	require.NoError(t, err, out)
	require.Contains(t, out, `"key": "tk_`)
	require.NotContains(t, out, `"msg":"request"`, "no HTTP access log from a CLI command")
	_, err = run(t, ctx, env, "tenants", "create", "--name", "Again", "--slug", "listed", "--admin-email", "a@b.example")
	require.ErrorContains(t, err, "taken")
	require.Equal(t, 1, exitCode(err), "a refusal is a failure, not a usage error")
	_, err = run(t, ctx, env, "tenants", "create", "--name", "Bad", "--slug", "Not A Slug", "--admin-email", "nope")
	require.ErrorContains(t, err, "slug")
	require.Equal(t, 2, exitCode(err), "a bad flag value is a usage error")
	require.Eventually(t, func() bool {
		out, err = run(t, ctx, env, "tenants", "list")
		return err == nil && strings.Contains(out, "listed") && strings.Contains(out, " 0\n")
	}, time.Minute, 50*time.Millisecond, out)
	require.Regexp(t, `listed\s+[0-9a-f-]{36}\s+active\s+pro\s+3\s+3\s+0`, out)
	out, err = run(t, ctx, env, "tenants", "list", "--json")
	require.NoError(t, err)
	require.Contains(t, out, `"slug":"listed"`)
}

func TestServe_MetricsExposeEveryComponent(t *testing.T) {
	db := pgtest.New(t)
	ctx, addr := startServeEnv(t, db, map[string]string{"STRIPE_API_KEY": "sk_test_123", "STRIPE_API_BASE": os.Getenv("STRIPE_API_BASE"),
		"TENANTRY_AUDIT_SIGNING_KEY": strings.Repeat("3c", 32), "TENANTRY_OPERATOR_TOKEN": "metrics-operator-token"})
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json"}
	out, err := run(t, ctx, env, "tenants", "create", "--name", "Measured", "--slug", "measured", "--admin-email", "a@measured.example")
	require.NoError(t, err, out)
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, "tenantry_projection_events_total ") && !strings.Contains(body, "tenantry_projection_events_total 0\n")
	}, time.Minute, 100*time.Millisecond)
	for _, series := range []string{
		`tenantry_http_requests_total{`, `tenantry_http_request_duration_seconds_bucket{`,
		`tenantry_events_appended_total `, `tenantry_append_duration_seconds_bucket{`, `tenantry_append_failures_total `,
		`tenantry_relay_events_total `, `tenantry_relay_lag_seconds `,
		`tenantry_projection_lag_seconds_bucket{`, `tenantry_projection_backlog_events `, `tenantry_projection_backlog_tenants `,
		`tenantry_projection_backlog_worst_events{rank="1"}`, `tenantry_projection_backlog_worst_events{rank="5"}`,
		`tenantry_projection_failed_tenants `,
		`tenantry_projection_failures_total{projection="auth"} `, `tenantry_projection_failures_total{projection="usage"} `,
		`tenantry_worker_runs_total{job="billing_cycle"}`, `tenantry_worker_failures_total{job="billing_cycle"}`,
		`tenantry_worker_runs_total{job="sign_heads"}`,
		`tenantry_stripe_calls_total{outcome="sent"}`, `tenantry_stripe_calls_total{outcome="gave_up"}`,
		`tenantry_rate_limited_total{plan="pro"}`,
	} {
		require.Contains(t, body, series)
	}
}

// jsonShape lists a JSON object's keys, in order, each with its JSON type.
func jsonShape(t *testing.T, obj string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(obj))
	dec.UseNumber()
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok, obj)
	var shape []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		var v any
		require.NoError(t, dec.Decode(&v))
		shape = append(shape, fmt.Sprintf("%s:%T", k, v))
	}
	return shape
}
