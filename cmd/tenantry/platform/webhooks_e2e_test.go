package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/webhook"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// serve end to end: a tenant admin's and the operator's endpoints, registered through the
// API, receive the tenant's suspension, queued by serve's projector and sent by its worker,
// each signed with its own endpoint's secret.
func TestServe_DeliversSignedWebhooksToTheTenantsAndTheOperatorsEndpoints(t *testing.T) {
	db := pgtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	const op = "operator-token-for-the-webhook-test"
	env := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_ADDR": addr, "LOG_FORMAT": "json", "TENANTRY_OPERATOR_TOKEN": op,
		"TENANTRY_WEBHOOK_KEY": strings.Repeat("3c", 32), "TENANTRY_WEBHOOK_ALLOW_PRIVATE": "1"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := run(t, ctx, env, "serve"); done <- err }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	type got struct {
		path, sig string
		body      []byte
	}
	var mu sync.Mutex
	var received []got
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, got{r.URL.Path, r.Header.Get(webhook.SignatureHeader), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	call := func(method, path, token string, body any) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, "http://"+addr+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		require.Less(t, res.StatusCode, 300, "%s %s: %s", method, path, raw)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)

	created := call("POST", "/v1/tenants", op, map[string]any{"name": "Hooked", "slug": "hooked", "plan": "pro", "admin_email": "admin@hooked.example.com"})
	key := created["api_key"].(map[string]any)["key"].(string)
	tenantID := created["tenant"].(map[string]any)["id"].(string)
	mine := call("POST", "/v1/webhook-endpoints", key, map[string]any{"url": rcv.URL + "/tenant", "event_types": []string{"tenant.suspended"}})
	ops := call("POST", "/v1/admin/webhook-endpoints", op, map[string]any{"url": rcv.URL + "/operator", "event_types": []string{"*"}})
	call("POST", "/v1/admin/tenants/"+tenantID+"/suspend", op, map[string]any{})

	secrets := map[string]string{"/tenant": mine["secret"].(string), "/operator": ops["secret"].(string)}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, g := range received {
			var b map[string]any
			if json.Unmarshal(g.body, &b) == nil && b["type"] == "tenant.suspended" {
				seen[g.path] = true
			}
		}
		return seen["/tenant"] && seen["/operator"]
	}, 60*time.Second, 50*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, g := range received {
		require.NoError(t, webhook.Verify(g.sig, g.body, secrets[g.path], webhook.Tolerance, time.Now()), g.path)
		var b map[string]any
		require.NoError(t, json.Unmarshal(g.body, &b))
		require.Equal(t, tenantID, b["tenant_id"])
		if g.path == "/tenant" {
			require.Equal(t, "tenant.suspended", b["type"], "the tenant's endpoint wants suspensions only")
		}
	}
}
