package platform

import (
	"bytes"
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

// Two API processes over one database and one NATS stream: this test's own serve, and the
// built binary's api as a separate OS process. Usage recorded through the first reaches the
// second's entitlements held in memory through PostgreSQL's NOTIFY (a process's own appends
// wake only its own watchers), and min_seq makes the read wait for it.
func TestEntitlements_FollowAnotherProcessesUsage(t *testing.T) {
	natsURL := os.Getenv("NATS_URL")
	require.NotEmpty(t, natsURL, "run with `make test` (NATS)")
	db := pgtest.New(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "tenantry")
	out, err := exec.Command("go", "build", "-o", bin, binaryPackage).CombinedOutput()
	require.NoError(t, err, string(out))
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	cluster := "test-" + hex.EncodeToString(suffix)
	t.Cleanup(func() {
		if nc, err := nats.Connect(natsURL); err == nil {
			if js, err := nc.JetStream(); err == nil {
				_ = js.DeleteStream(strings.ToUpper(strings.ReplaceAll(cluster, "-", "_")) + "_EVENTS")
			}
			nc.Close()
		}
	})
	const operator = "entitlements-operator-token"
	env := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_BUS": "nats", "NATS_URL": natsURL, "TENANTRY_CLUSTER": cluster,
		"TENANTRY_OPERATOR_TOKEN": operator, "LOG_FORMAT": "json", "TENANTRY_PLAN_LIMITS": "pro.rps=100000,pro.burst=100000"}
	first, second := "http://"+freeAddr(t), "http://"+freeAddr(t)

	serveEnv := map[string]string{"TENANTRY_ADDR": strings.TrimPrefix(first, "http://")}
	for k, v := range env {
		serveEnv[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _, _ = run(t, ctx, serveEnv, "serve") }()
	t.Cleanup(func() { cancel(); <-done })

	api := exec.Command(bin, "api")
	api.Env = append(os.Environ(), "TENANTRY_ADDR="+strings.TrimPrefix(second, "http://"))
	for k, v := range env {
		api.Env = append(api.Env, k+"="+v)
	}
	logs, err := os.Create(filepath.Join(dir, "api.log"))
	require.NoError(t, err)
	api.Stdout, api.Stderr = logs, logs
	require.NoError(t, api.Start())
	t.Cleanup(func() { _ = api.Process.Kill(); _ = api.Wait(); logs.Close() })
	for _, base := range []string{first, second} {
		require.Eventually(t, func() bool {
			res, err := http.Get(base + "/readyz")
			if err == nil {
				res.Body.Close()
			}
			return err == nil && res.StatusCode == http.StatusOK
		}, 60*time.Second, 50*time.Millisecond, "%s is not ready; the api's logs are in %s", base, dir)
	}

	call := func(method, url, token string, body any) (int, map[string]any) {
		t.Helper()
		var rd *bytes.Reader
		if s, ok := body.(string); ok {
			rd = bytes.NewReader([]byte(s))
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, url, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	status, m := call("PUT", first+"/v1/admin/catalog", operator, `{"metrics": [{"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0}],
	"plans": [{"key": "pro", "name": "Pro", "intervals": {"monthly": {}}, "limits": {"seats": 25, "requests_per_second": 100000, "burst": 100000},
	  "metrics": {"api_calls": {"included": 100, "beyond": "hard"}}}]}`)
	require.Equal(t, http.StatusOK, status, "%v", m)
	status, m = call("POST", first+"/v1/tenants", operator, map[string]any{"name": "Entitled", "slug": "entitled", "plan": "pro", "admin_email": "a@entitled.example"})
	require.Equal(t, http.StatusCreated, status, "%v", m)
	key := m["api_key"].(map[string]any)["key"].(string)

	// The second process holds the tenant in memory before any usage.
	require.Eventually(t, func() bool {
		status, m = call("GET", second+"/v1/entitlements", key, nil)
		return status == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "%v", m)
	require.Equal(t, float64(0), m["metrics"].([]any)[0].(map[string]any)["usage"])

	total := 0
	for i := 1; i <= 5; i++ {
		status, m = call("POST", first+"/v1/usage", key, map[string]any{"metric": "api_calls", "quantity": i, "idempotency_key": fmt.Sprint(i)})
		require.Equal(t, http.StatusAccepted, status, "%v", m)
		total += i
		seq := m["seq"].(float64)
		status, m = call("GET", fmt.Sprintf("%s/v1/entitlements?min_seq=%.0f", second, seq), key, nil)
		require.Equal(t, http.StatusOK, status, "%v", m)
		require.GreaterOrEqual(t, m["seq"].(float64), seq)
		require.Equal(t, float64(total), m["metrics"].([]any)[0].(map[string]any)["usage"], "%v", m)
	}
}
