package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/webhook"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func withWebhookKey(t testing.TB) apiOption {
	key, err := webhook.ParseKey(strings.Repeat("5a", 32))
	require.NoError(t, err)
	return func(d *httpapi.Deps) { d.WebhookKey = key }
}

func TestWebhookEndpoints_TenantAdminManagesItsEndpointsAndNoOneElseSeesThem(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withWebhookKey(t))
	ten, other := a.createTenant("pro"), a.createTenant("pro")

	r := a.do(req{method: "POST", path: "/v1/webhook-endpoints", token: ten.key,
		body: map[string]any{"url": "https://example.com/hooks", "event_types": []string{"tenant.suspended", "member.removed"}, "description": "ops"}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	secret, id := r.str("secret"), r.str("endpoint", "id")
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	require.Equal(t, ten.id, r.str("endpoint", "tenant_id"))
	require.Equal(t, "enabled", r.str("endpoint", "status"))

	// The secret is stored sealed only: no column of the row holds it.
	var row string
	require.NoError(t, pgtest.Pool(t, testDB.SuperURL, 1).QueryRow(context.Background(),
		`SELECT w::text FROM tenantry.webhook_endpoints w WHERE endpoint_id = $1`, id).Scan(&row))
	require.NotContains(t, row, secret[len("whsec_"):])
	require.NotContains(t, row, secret)

	r = a.do(req{method: "GET", path: "/v1/webhook-endpoints", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Len(t, r.get("endpoints"), 1)
	require.NotContains(t, string(r.raw), secret)

	// Another tenant's admin: 404 on every route, an empty list.
	for _, q := range []req{{method: "GET", path: "/v1/webhook-endpoints/" + id}, {method: "PATCH", path: "/v1/webhook-endpoints/" + id, body: map[string]any{"status": "disabled"}},
		{method: "DELETE", path: "/v1/webhook-endpoints/" + id}, {method: "POST", path: "/v1/webhook-endpoints/" + id + "/rotate-secret"},
		{method: "GET", path: "/v1/webhook-endpoints/" + id + "/deliveries"}, {method: "POST", path: "/v1/webhook-endpoints/" + id + "/deliveries/1/redeliver"}} {
		q.token = other.key
		require.Equal(t, http.StatusNotFound, a.do(q).status, q.method+" "+q.path)
	}
	r = a.do(req{method: "GET", path: "/v1/webhook-endpoints", token: other.key})
	require.Len(t, r.get("endpoints"), 0)
	// Nor does the operator's list show it.
	r = a.do(req{method: "GET", path: "/v1/admin/webhook-endpoints", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.NotContains(t, string(r.raw), id)

	r = a.do(req{method: "PATCH", path: "/v1/webhook-endpoints/" + id, token: ten.key, body: map[string]any{"status": "disabled", "url": "https://example.org/h"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "disabled", r.str("status"))
	require.Equal(t, "https://example.org/h", r.str("url"))
	r = a.do(req{method: "PATCH", path: "/v1/webhook-endpoints/" + id, token: ten.key, body: map[string]any{"status": "enabled"}})
	require.Equal(t, "enabled", r.str("status"))
	require.Nil(t, r.get("disabled_reason"))

	r = a.do(req{method: "POST", path: "/v1/webhook-endpoints/" + id + "/rotate-secret", token: ten.key, body: map[string]any{"overlap_seconds": 3600}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.NotEqual(t, secret, r.str("secret"))
	require.NotNil(t, r.get("endpoint", "previous_secret_expires_at"))
	r = a.do(req{method: "POST", path: "/v1/webhook-endpoints/" + id + "/rotate-secret", token: ten.key, body: map[string]any{"overlap_seconds": 700000}})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))

	r = a.do(req{method: "GET", path: "/v1/webhook-endpoints/" + id + "/deliveries", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, false, r.get("has_more"))
	require.Equal(t, http.StatusNotFound, a.do(req{method: "POST", path: "/v1/webhook-endpoints/" + id + "/deliveries/99/redeliver", token: ten.key}).status)

	r = a.do(req{method: "DELETE", path: "/v1/webhook-endpoints/" + id, token: ten.key})
	require.Equal(t, http.StatusNoContent, r.status, string(r.raw))
	require.Equal(t, http.StatusNotFound, a.do(req{method: "GET", path: "/v1/webhook-endpoints/" + id, token: ten.key}).status)
}

func TestWebhookEndpoints_RefuseBadURLsUnknownTypesAndTooMany(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withWebhookKey(t))
	ten := a.createTenant("pro")
	for _, body := range []map[string]any{
		{"url": "http://example.com/h", "event_types": []string{"*"}},
		{"url": "ftp://example.com/h", "event_types": []string{"*"}},
		{"url": "https://example.com/h", "event_types": []string{"tenant.nothing"}},
		{"url": "https://example.com/h", "event_types": []string{}},
		{"url": "https://example.com/h"},
	} {
		r := a.do(req{method: "POST", path: "/v1/webhook-endpoints", token: ten.key, body: body})
		require.Equal(t, http.StatusBadRequest, r.status, "%v: %s", body, r.raw)
	}
	r := a.do(req{method: "POST", path: "/v1/webhook-endpoints", token: ten.key, body: map[string]any{"url": "http://127.0.0.1:9/h", "event_types": []string{"*"}}})
	require.Equal(t, http.StatusCreated, r.status, "http is fine for a loopback host: %s", r.raw)
	for range webhook.MaxEndpoints - 1 {
		r := a.do(req{method: "POST", path: "/v1/webhook-endpoints", token: ten.key, body: map[string]any{"url": "https://example.com/h", "event_types": []string{"*"}}})
		require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	}
	r = a.do(req{method: "POST", path: "/v1/webhook-endpoints", token: ten.key, body: map[string]any{"url": "https://example.com/h", "event_types": []string{"*"}}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.raw))
}

func TestWebhookEndpoints_WithoutAKeyCreationAnswers503(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	r := a.do(req{method: "POST", path: "/v1/webhook-endpoints", token: ten.key, body: map[string]any{"url": "https://example.com/h", "event_types": []string{"*"}}})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	require.Contains(t, r.str("detail"), "TENANTRY_WEBHOOK_KEY")
}

func TestAdminWebhookEndpoints_OperatorRegistersDeploymentWideEndpoints(t *testing.T) {
	t.Parallel()
	a := newAPI(t, withWebhookKey(t))
	ten := a.createTenant("pro")
	r := a.do(req{method: "POST", path: "/v1/admin/webhook-endpoints", token: operatorToken, body: map[string]any{"url": "https://ops.example.com/h", "event_types": []string{"tenant.suspended"}}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	require.Nil(t, r.get("endpoint", "tenant_id"))
	id := r.str("endpoint", "id")
	require.Equal(t, http.StatusNotFound, a.do(req{method: "GET", path: "/v1/webhook-endpoints/" + id, token: ten.key}).status)
	require.Equal(t, http.StatusUnauthorized, a.do(req{method: "GET", path: "/v1/admin/webhook-endpoints/" + id, token: ten.key}).status)
	r = a.do(req{method: "GET", path: "/v1/admin/webhook-endpoints/" + id, token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/admin/webhook-endpoints/" + id + "/deliveries/1/redeliver", token: operatorToken})
	require.Equal(t, http.StatusBadRequest, r.status, "the operator names the event's tenant: %s", r.raw)
	r = a.do(req{method: "POST", path: "/v1/admin/webhook-endpoints/" + id + "/deliveries/1/redeliver?tenant_id=" + ten.id, token: operatorToken})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
	require.Equal(t, http.StatusNoContent, a.do(req{method: "DELETE", path: "/v1/admin/webhook-endpoints/" + id, token: operatorToken}).status)
}
