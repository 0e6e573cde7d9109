package platform

import (
	"encoding/json"
	"strings"
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
	const op = "operator-token-for-the-webhook-test"
	srv := launchServe(t, map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json", "TENANTRY_OPERATOR_TOKEN": op,
		"TENANTRY_WEBHOOK_KEY": strings.Repeat("3c", 32), "TENANTRY_WEBHOOK_ALLOW_PRIVATE": "1"})
	defer srv.stop()
	rcv := newReceiver(t)

	created := srv.call("POST", "/v1/tenants", op, map[string]any{"name": "Hooked", "slug": "hooked", "plan": "pro", "admin_email": "admin@hooked.example.com"})
	key := created["api_key"].(map[string]any)["key"].(string)
	tenantID := created["tenant"].(map[string]any)["id"].(string)
	mine := srv.call("POST", "/v1/webhook-endpoints", key, map[string]any{"url": rcv.URL + "/tenant", "event_types": []string{"tenant.suspended"}})
	ops := srv.call("POST", "/v1/admin/webhook-endpoints", op, map[string]any{"url": rcv.URL + "/operator", "event_types": []string{"*"}})
	srv.call("POST", "/v1/admin/tenants/"+tenantID+"/suspend", op, map[string]any{})

	secrets := map[string]string{"/tenant": mine["secret"].(string), "/operator": ops["secret"].(string)}
	require.Eventually(t, func() bool {
		seen := map[string]bool{}
		for _, g := range rcv.received() {
			var b map[string]any
			if json.Unmarshal(g.body, &b) == nil && b["type"] == "tenant.suspended" {
				seen[g.path] = true
			}
		}
		return seen["/tenant"] && seen["/operator"]
	}, 60*time.Second, 50*time.Millisecond)
	for _, g := range rcv.received() {
		require.NoError(t, webhook.Verify(g.sig, g.body, secrets[g.path], webhook.Tolerance, time.Now()), g.path)
		var b map[string]any
		require.NoError(t, json.Unmarshal(g.body, &b))
		require.Equal(t, tenantID, b["tenant_id"])
		if g.path == "/tenant" {
			require.Equal(t, "tenant.suspended", b["type"], "the tenant's endpoint wants suspensions only")
		}
	}
}
