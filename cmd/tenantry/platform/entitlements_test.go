package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// buildTenantry builds the tenantry binary into dir.
func buildTenantry(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tenantry")
	out, err := exec.Command("go", "build", "-o", bin, binaryPackage).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// natsCluster is a fresh TENANTRY_CLUSTER name (prefix and random hex) whose JetStream
// stream is deleted when the test ends.
func natsCluster(t *testing.T, natsURL, prefix string) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	cluster := prefix + "-" + hex.EncodeToString(suffix)
	t.Cleanup(func() { // the test's stream goes with it
		if nc, err := nats.Connect(natsURL); err == nil {
			if js, err := nc.JetStream(); err == nil {
				_ = js.DeleteStream(strings.ToUpper(strings.ReplaceAll(cluster, "-", "_")) + "_EVENTS")
			}
			nc.Close()
		}
	})
	return cluster
}

// waitReady waits until the API at base answers /readyz 200.
func waitReady(t *testing.T, base, logs string) {
	t.Helper()
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "API %s is not ready; logs in %s", base, logs)
}

// Two API processes over one database and one NATS stream: this test's own serve, and the
// built binary's api as a separate OS process. Usage recorded through the first reaches the
// second's entitlements held in memory through PostgreSQL's NOTIFY (a process's own appends
// wake only its own watchers), and min_seq makes the read wait for it.
func TestEntitlements_FollowAnotherProcessesUsage(t *testing.T) {
	natsURL := os.Getenv("NATS_URL")
	require.NotEmpty(t, natsURL, "run with `make test` (NATS)")
	db := pgtest.New(t)
	dir := t.TempDir()
	bin := buildTenantry(t, dir)
	const operator = "entitlements-operator-token"
	env := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_BUS": "nats", "NATS_URL": natsURL,
		"TENANTRY_CLUSTER": natsCluster(t, natsURL, "ent"), "TENANTRY_OPERATOR_TOKEN": operator, "LOG_FORMAT": "json",
		"TENANTRY_PLAN_LIMITS": "pro.rps=100000,pro.burst=100000"}
	first, second := &apiClient{t: t, base: "http://" + freeAddr(t)}, &apiClient{t: t, base: "http://" + freeAddr(t)}

	serveEnv := map[string]string{"TENANTRY_ADDR": strings.TrimPrefix(first.base, "http://")}
	apiEnv := append(os.Environ(), "TENANTRY_ADDR="+strings.TrimPrefix(second.base, "http://"))
	for k, v := range env {
		serveEnv[k] = v
		apiEnv = append(apiEnv, k+"="+v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _, _ = run(t, ctx, serveEnv, "serve") }()
	t.Cleanup(func() { cancel(); <-done })
	startProcess(t, bin, dir, "api", apiEnv, "api")
	waitReady(t, first.base, "this test's output")
	waitReady(t, second.base, dir)

	r := first.do("PUT", "/v1/admin/catalog", operator, json.RawMessage(`{"metrics": [{"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0}],
	"plans": [{"key": "pro", "name": "Pro", "intervals": {"monthly": {}}, "limits": {"seats": 25, "requests_per_second": 100000, "burst": 100000},
	  "metrics": {"api_calls": {"included": 100, "beyond": "hard"}}}]}`))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = first.do("POST", "/v1/tenants", operator, map[string]any{"name": "Entitled", "slug": "entitled", "plan": "pro", "admin_email": "a@entitled.example"})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	key := r.str("api_key", "key")
	usage := func(r apiAnswer) any { return r.body["metrics"].([]any)[0].(map[string]any)["usage"] }

	// The second process holds the tenant in memory before any usage.
	require.Eventually(t, func() bool {
		r = second.do("GET", "/v1/entitlements", key, nil)
		return r.status == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "%s", r.raw)
	require.Equal(t, float64(0), usage(r))

	total := 0
	for i := 1; i <= 5; i++ {
		r = first.do("POST", "/v1/usage", key, map[string]any{"metric": "api_calls", "quantity": i, "idempotency_key": fmt.Sprint(i)})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
		total += i
		seq := r.body["seq"].(float64)
		r = second.do("GET", fmt.Sprintf("/v1/entitlements?min_seq=%.0f", seq), key, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.GreaterOrEqual(t, r.body["seq"].(float64), seq)
		require.Equal(t, float64(total), usage(r), string(r.raw))
	}
}
