package httpapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
	apiv1 "github.com/tenantry/tenantry/http/api"
)

func TestBadInput_IsAlwaysAProblemNeverA5xx(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	big := `{"name": "` + strings.Repeat("x", httpapi.MaxBody) + `"}`
	cases := []struct {
		name   string
		r      req
		status int
		kind   string
	}{
		{"unknown route", req{method: "GET", path: "/v1/nope"}, 404, "not-found"},
		{"wrong method", req{method: "DELETE", path: "/v1/tenant", token: ten.key}, 405, "method-not-allowed"},
		{"no credentials", req{method: "GET", path: "/v1/tenant"}, 401, "unauthenticated"},
		{"garbage key", req{method: "GET", path: "/v1/tenant", token: "tk_garbage"}, 401, "unauthenticated"},
		{"malformed json", req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: `{"name": `}, 400, "malformed-json"},
		{"not an object", req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: `[1,2]`}, 400, "malformed-json"},
		{"wrong type", req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: `{"name": 42}`}, 400, "malformed-json"},
		{"unknown field", req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: `{"name": "x", "admin": true}`}, 400, "malformed-json"},
		{"two objects", req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: `{"name": "x"} {"name": "y"}`}, 400, "malformed-json"},
		{"empty body", req{method: "PUT", path: "/v1/tenant/plan", token: ten.key, body: ``}, 400, "malformed-json"},
		{"bad plan", req{method: "PUT", path: "/v1/tenant/plan", token: ten.key, body: `{"plan": "platinum"}`}, 400, "invalid-request"},
		{"too large", req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: big}, 413, "payload-too-large"},
		{"wrong media type", req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: `{"name":"x"}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported-media-type"},
		{"bad slug", req{method: "POST", path: "/v1/tenants", token: operatorToken, body: `{"name": "A", "slug": "Bad Slug!", "admin_email": "a@example.com"}`}, 400, "invalid-request"},
		{"bad email", req{method: "POST", path: "/v1/tenants", token: operatorToken, body: `{"name": "A", "slug": "good-slug-x", "admin_email": "nope"}`}, 400, "invalid-request"},
		{"taken slug", req{method: "POST", path: "/v1/tenants", token: operatorToken, body: `{"name": "A", "slug": "` + ten.slug + `", "admin_email": "a@example.com"}`}, 409, "conflict"},
		{"signup closed", req{method: "POST", path: "/v1/tenants", body: `{"name": "A", "slug": "another-one", "admin_email": "a@example.com"}`}, 401, "unauthenticated"},
		{"bad member id", req{method: "DELETE", path: "/v1/members/not-a-uuid", token: ten.key}, 404, "not-found"},
		{"bad role", req{method: "POST", path: "/v1/members", token: ten.key, body: `{"email": "a@example.com", "role": "god"}`}, 400, "invalid-request"},
		{"usage: negative", req{method: "POST", path: "/v1/usage", token: ten.key, body: `{"metric": "api_calls", "quantity": -1, "idempotency_key": "k"}`}, 400, "invalid-request"},
		{"usage: string quantity", req{method: "POST", path: "/v1/usage", token: ten.key, body: `{"metric": "api_calls", "quantity": "1", "idempotency_key": "k"}`}, 400, "invalid-request"},
		{"usage: empty batch", req{method: "POST", path: "/v1/usage", token: ten.key, body: `{"records": []}`}, 400, "invalid-request"},
		{"usage: one bad record", req{method: "POST", path: "/v1/usage", token: ten.key, body: `{"records": [{"metric": "api_calls", "quantity": 1, "idempotency_key": "a"}, {"metric": "", "quantity": 1, "idempotency_key": "b"}]}`}, 400, "invalid-request"},
		{"usage: bad range", req{method: "GET", path: "/v1/usage?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z", token: ten.key}, 400, "invalid-request"},
		{"usage: bad granularity", req{method: "GET", path: "/v1/usage?granularity=week", token: ten.key}, 400, "invalid-request"},
		{"usage: range too long", req{method: "GET", path: "/v1/usage?from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", token: ten.key}, 400, "invalid-request"},
		{"billing: bad period", req{method: "GET", path: "/v1/billing?period=2026-13", token: ten.key}, 400, "invalid-request"},
		{"billing: period not a month", req{method: "GET", path: "/v1/billing?period=yesterday", token: ten.key}, 400, "invalid-request"},
		{"audit: bad cursor", req{method: "GET", path: "/v1/audit/events?cursor=-4", token: ten.key}, 400, "invalid-request"},
		{"audit: the old after_seq", req{method: "GET", path: "/v1/audit/events?after_seq=4", token: ten.key}, 400, "invalid-request"},
		{"audit: bad as_of", req{method: "GET", path: "/v1/audit/state?as_of=yesterday", token: ten.key}, 400, "invalid-request"},
		{"admin: unknown tenant", req{method: "POST", path: "/v1/admin/tenants/" + "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b" + "/suspend", token: operatorToken}, 404, "not-found"},
		{"admin: bad reason", req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/suspend", token: operatorToken, body: `{"reason": "boredom"}`}, 400, "invalid-request"},
		{"webhook: unsigned", req{method: "POST", path: "/v1/webhooks/stripe", body: `{"id": "evt_1"}`}, 400, "invalid-request"},
		{"webhook: forged", req{method: "POST", path: "/v1/webhooks/stripe", body: `{"id": "evt_1"}`, header: map[string]string{"Stripe-Signature": "t=1,v1=deadbeef"}}, 400, "invalid-request"},
		{"invitation: garbage token", req{method: "POST", path: "/v1/invitations/accept", body: `{"token": "inv_nope"}`}, 401, "unauthenticated"},
		{"bad request id is replaced", req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-ID": "bad id with spaces"}}, 200, ""},
	}
	for _, tc := range cases {
		r := a.do(tc.r)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.raw)
		if tc.kind != "" {
			require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), tc.name)
			require.Equal(t, tc.kind, r.problemType(), "%s: %s", tc.name, r.raw)
			require.Equal(t, float64(tc.status), r.get("status"), tc.name)
			require.NotEmpty(t, r.str("request_id"), tc.name)
		}
	}
	// Nothing above wrote to the tenant.
	r := a.do(req{method: "GET", path: "/v1/audit/verify", token: ten.key})
	require.Equal(t, float64(3), r.get("head_seq"), string(r.raw))
}

// FuzzDecodeJSON: request decoding never panics and accepts only one object of known fields.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x"}`, `{"name":1}`, `[]`, `{"name":"x"}{}`, `{"a":`, "\x00", `{"name":null}`, `  {"name":"\u0000"}  `,
		`{"metric":"api_calls","quantity":1,"idempotency_key":"k-1"}`, `{"metric":"a","quantity":1,"idempotency_key":"k","metric":"b"}`,
		`{"records":[{"metric":"a","quantity":2,"idempotency_key":"k"}]}`, `{"rec\u006frds":[{"metric":"a","quantity":2,"idempotency_key":"k"}]}`,
		`{"metric":"a","quantity":1,"idempotency_key":"k"} x`,
		` { "records" : [ {"metric":"a","quantity":1,"idempotency_key":"k1"} , {"metric":"b","quantity":2,"idempotency_key":"k2"} ] } `,
		`{"records":[{"metric":"a","quantity":1,"idempotency_key":"k"}],"records":[{"metric":"b","quantity":1,"idempotency_key":"k"}]}`,
		`{"records":[]}`, `{"records":[{"metric":"a","quantity":1,"idempotency_key":"k"},1]}`, `{"records":[{"metric":"a","quantity":1,"idempotency_key":"k"}],"x":1}`,
		`{"records":[{"metric":"a}","quantity":1,"idempotency_key":"k{\"["}]}`, `{"records":[{"metric":"a","quantity":1,"idempotency_key":"k","x":{"y":[1]}}]}`,
		`{"metric":"api_calls","quantity":3}`, `{"metric":"api_calls","quantity":"3"}`, `{"metric":"a","quantity":1.5e3}`, `{"feature":"sso","quantity":null}`,
		`{"metric":"a","Metric":"b"}`, `{"n\u0061me":"a","name":"b"}`, `{"a":{"k":1,"K":2}}`, `{"a":[{"k":1},{"k":2}]}`, `{"\u212a":1,"k":2}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"A":18}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst struct {
			Name *string `json:"name"`
			N    int     `json:"n"`
		}
		if err := httpapi.DecodeJSON(body, &dst); err == nil {
			require.Equal(t, byte('{'), bytes.TrimSpace(body)[0])
		}
		// A key given twice in one object (compared as encoding/json matches keys: without
		// case) is refused, at any depth; nothing else is, decoded into a map.
		if trimmed := bytes.TrimSpace(body); json.Valid(trimmed) && len(trimmed) > 0 && trimmed[0] == '{' {
			var anything map[string]any
			err := httpapi.DecodeJSON(body, &anything)
			require.Equal(t, hasRepeatedKey(trimmed), err != nil, "%q: %v", body, err)
		}
		// A check's quantity is a JSON number as written, never a string, and what was
		// accepted writes back to the same request.
		var check apiv1.EntitlementCheckRequest
		if err := httpapi.DecodeJSON(body, &check); err == nil && check.Quantity != "" {
			var n json.Number
			require.NoError(t, json.Unmarshal([]byte(check.Quantity), &n), "%q", check.Quantity)
			require.NotEqual(t, byte('"'), check.Quantity[0])
			again, err := json.Marshal(check)
			require.NoError(t, err)
			var back apiv1.EntitlementCheckRequest
			require.NoError(t, httpapi.DecodeJSON(again, &back))
			require.Equal(t, check, back)
		}
		now := time.Now()
		got, err := httpapi.ParseUsageBody(body, now)
		// The single-record fast path decides exactly as the full path does.
		want, wantErr := httpapi.ParseUsageEnvelope(body, now)
		if len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '{' {
			require.Equal(t, wantErr == nil, err == nil, "%q: %v / %v", body, err, wantErr)
			require.Equal(t, want, got, "%q", body)
		}
	})
}

// hasRepeatedKey reports whether an object in body (valid JSON) has two keys equal without
// case: the fuzz target's reference, by encoding/json's tokens.
func hasRepeatedKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			var keys []string
			for dec.More() {
				k, _ := dec.Token()
				key, _ := k.(string)
				for _, o := range keys {
					if strings.EqualFold(o, key) {
						return true
					}
				}
				keys = append(keys, key)
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		}
		return false
	}
	return walk()
}

// A fuzzed request against the real server never gets a 5xx.
func TestBadInput_RandomBodiesNever5xx(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	bodies := []string{`{"records": [null]}`, `{"records": {}}`, `{"records": [1, 2]}`, `{"metric": "a", "quantity": 1e400, "idempotency_key": "x"}`,
		`{"metric": "` + strings.Repeat("m", 5000) + `", "quantity": 1, "idempotency_key": "x"}`, "\xff\xfe", `{"name": "\ud800"}`, `{"role": ["admin"]}`,
		`{"token": ""}`, `{"email": "a@b", "role": null}`, `{"member_id": "x"}`, `{"records": [` + strings.Repeat(`{"metric":"a","quantity":1,"idempotency_key":"k"},`, 1000) + `{}]}`}
	for _, rt := range httpapi.Routes() {
		if rt.Method == "GET" || rt.Access == "public" {
			continue
		}
		for _, b := range bodies {
			r := a.do(req{method: rt.Method, path: concrete(rt.Path), token: ten.key, body: b})
			require.Less(t, r.status, 500, "%s %s with %.80q: %s", rt.Method, rt.Path, b, r.raw)
		}
	}
}

func TestAdminList_ShowsTheDirectory(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	r := a.do(req{method: "GET", path: "/v1/admin/tenants?limit=1000", token: operatorToken})
	require.Equal(t, 200, r.status, string(r.raw))
	found := false
	for _, e := range r.get("tenants").([]any) {
		m := e.(map[string]any)
		if m["id"] == ten.id {
			found = true
			require.Equal(t, ten.slug, m["slug"])
			require.Equal(t, "active", m["status"])
			require.Equal(t, "pro", m["plan"])
		}
	}
	require.True(t, found, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/tenant/", token: ten.key})
	require.Equal(t, 404, r.status, "no redirects: %s", r.raw)
	r = a.do(req{method: "GET", path: "/v1/tenant"})
	require.Equal(t, `Bearer realm="tenantry"`, r.header.Get("WWW-Authenticate"))
}
