package oastest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/oastest"
)

func checker(t *testing.T) *oastest.Checker {
	t.Helper()
	c, err := oastest.Shared()
	require.NoError(t, err)
	return c
}

func jsonAnswer(method, path string, status int, body string) oastest.Answer {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-ID", "req-1")
	if status >= 400 {
		h.Set("Content-Type", "application/problem+json")
	}
	return oastest.Answer{Method: method, Path: path, Status: status, Header: h, Body: []byte(body)}
}

const profile = `{"id":"0190d3a4-5b6c-7d8e-9f00-112233445566","name":"Acme","slug":"acme","plan":"pro","plan_version":1,"interval":"monthly","status":"active",` +
	`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}`

// A conforming answer passes; each kind of drift from the document is reported: a missing
// required field, a field of the wrong type, an unknown field, null where null is not
// allowed, a status the operation does not list, an undeclared media type, an NDJSON line
// of neither line shape.
func TestChecker_ReportsEveryKindOfDrift(t *testing.T) {
	c := checker(t)
	require.Empty(t, c.Check(jsonAnswer("GET", "/v1/tenant", 200, profile)))
	require.Empty(t, c.Check(jsonAnswer("GET", "/v1/workspaces/acme/tenant", 200, profile)), "the workspace form is the same operation")

	drifts := map[string]oastest.Answer{
		"missing required":   jsonAnswer("GET", "/v1/tenant", 200, strings.Replace(profile, `"slug":"acme",`, "", 1)),
		"wrong type":         jsonAnswer("GET", "/v1/tenant", 200, strings.Replace(profile, `"name":"Acme"`, `"name":5`, 1)),
		"unknown field":      jsonAnswer("GET", "/v1/tenant", 200, strings.Replace(profile, `"name":"Acme"`, `"name":"Acme","joined":1`, 1)),
		"not in the enum":    jsonAnswer("GET", "/v1/tenant", 200, strings.Replace(profile, `"interval":"monthly"`, `"interval":"weekly"`, 1)),
		"not a uuid":         jsonAnswer("GET", "/v1/tenant", 200, strings.Replace(profile, `0190d3a4-5b6c-7d8e-9f00-112233445566`, `acme`, 1)),
		"null not allowed":   jsonAnswer("GET", "/v1/members", 200, `{"members":null,"next_cursor":null,"has_more":false}`),
		"paging absent":      jsonAnswer("GET", "/v1/members", 200, `{"members":[]}`),
		"unlisted status":    jsonAnswer("GET", "/v1/tenant", 418, `{"type":"https://tenantry.dev/problems/x","title":"x","status":418}`),
		"bad problem":        jsonAnswer("GET", "/v1/tenant", 404, `{"title":"x","status":404}`),
		"undeclared media":   {Method: "GET", Path: "/v1/tenant", Status: 200, Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("<p>")},
		"unknown route 200":  jsonAnswer("GET", "/v1/nothing-here", 200, `{}`),
		"bad ndjson line":    {Method: "GET", Path: "/v1/audit/events", Status: 200, Header: http.Header{"Content-Type": {"application/x-ndjson"}}, Body: []byte("{\"seq\":1}\n")},
		"state: member null": jsonAnswer("GET", "/v1/audit/state", 200, `{"as_of":"2026-01-02T03:04:05Z","seq":0,"tenant":null,"members":null,"usage_totals":{}}`),
	}
	for name, a := range drifts {
		require.NotEmpty(t, c.Check(a), "%s: the drift must be reported", name)
	}

	// What the issue found live and the document now allows: the state before the tenant's
	// creation (tenant null) and the export's head line (a second line shape).
	require.Empty(t, c.Check(jsonAnswer("GET", "/v1/audit/state", 200, `{"as_of":"2026-01-02T03:04:05Z","seq":0,"tenant":null,"members":[],"usage_totals":{}}`)))
	head := `{"head":{"tenant_id":"0190d3a4-5b6c-7d8e-9f00-112233445566","seq":0,"hash":"` + strings.Repeat("0", 64) +
		`","signed_at":"0001-01-01T00:00:00Z","key_id":"","signature":""}}` + "\n"
	require.Empty(t, c.Check(oastest.Answer{Method: "GET", Path: "/v1/audit/events", Status: 200,
		Header: http.Header{"Content-Type": {"application/x-ndjson"}}, Body: []byte(head)}))
}

// A server whose answer drifts fails the test that received it: Handler reports it when
// the test ends (observed here on a stand-in testing.TB).
func TestHandler_FailsTheTestThatReceivedADriftingAnswer(t *testing.T) {
	rec := &recordingTB{TB: t}
	drifting := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"fine"}`)) // not ok or ready
	})
	srv := httptest.NewServer(oastest.Handler(rec, drifting))
	res, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	_ = res.Body.Close()
	srv.Close()
	rec.runCleanups()
	require.NotEmpty(t, rec.errors, "the drift must fail the test")
	require.Contains(t, rec.errors[0], "/healthz")

	rec = &recordingTB{TB: t}
	fine := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-ID", "r")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	srv = httptest.NewServer(oastest.Handler(rec, fine))
	res, err = http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	_ = res.Body.Close()
	srv.Close()
	rec.runCleanups()
	require.Empty(t, rec.errors)
}

// A JSON request body the server accepted is checked against the operation's request
// schema: one a generated client could not send fails the test; a conforming one, a
// refused one (not 2xx) or a body of another media type passes; the body still reaches the
// handler whole.
func TestHandler_FailsTheTestWhoseAcceptedRequestBreaksTheDocument(t *testing.T) {
	c := checker(t)
	check := func(method, path, contentType, body string) []string {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		h.Set("Authorization", "Bearer tk_x")
		p, q, _ := strings.Cut(path, "?")
		return c.CheckRequest(oastest.Request{Method: method, Path: p, RawQuery: q, Header: h, Body: []byte(body)})
	}
	require.Empty(t, check("POST", "/v1/entitlements/check", "application/json", `{"metric":"api_calls","quantity":3}`))
	require.Empty(t, check("GET", "/v1/entitlements?min_seq=4", "", ""))
	require.Empty(t, check("GET", "/v1/entitlements?min_seq=", "", ""), "an empty value is absent")
	require.NotEmpty(t, check("GET", "/v1/entitlements?min_seq=x", "", ""))
	bad := check("POST", "/v1/entitlements/check", "application/json; charset=utf-8", `{"metric":"api_calls","quantity":"3"}`)
	require.NotEmpty(t, bad)
	require.Contains(t, strings.Join(bad, " "), "quantity")
	require.NotEmpty(t, check("POST", "/v1/usage", "application/json", `{"metric":"api_calls","quantity":3,"idempotency_key":"k","extra":1}`))
	require.NotEmpty(t, check("GET", "/v1/tenant", "application/json", `{}`), "a body for an operation that takes none")

	for _, status := range []int{http.StatusOK, http.StatusBadRequest} {
		rec := &recordingTB{TB: t}
		var got string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = string(b)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"type":"https://tenantry.dev/problems/x","title":"t","status":` + strconv.Itoa(status) + `}`))
		})
		srv := httptest.NewServer(oastest.Handler(rec, h))
		body := `{"metric":"api_calls","quantity":"3"}`
		res, err := http.Post(srv.URL+"/v1/entitlements/check", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		_ = res.Body.Close()
		srv.Close()
		rec.runCleanups()
		require.Equal(t, body, got, "the handler reads the body as sent")
		found := false
		for _, e := range rec.errors {
			found = found || strings.Contains(e, "request body")
		}
		require.Equal(t, status == http.StatusOK, found, "status %d: %v", status, rec.errors)
	}
}

type recordingTB struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recordingTB) Helper()          {}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Errorf(f string, args ...any) {
	r.errors = append(r.errors, strings.TrimSpace(strings.ReplaceAll(sprintf(f, args...), "\n", " ")))
}
func (r *recordingTB) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// The document every generator reads: every operation has an operationId (unique and
// readable), a tag, a summary, a description and its security; every parameter and every
// property of a schema has a description; every operation lists 400 and 500 problems.
func TestDocument_EveryOperationIsFullyDescribed(t *testing.T) {
	raw, err := httpapi.DocumentJSON()
	require.NoError(t, err)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []map[string]any
		Tags    []map[string]any
		Paths   map[string]map[string]map[string]any
		Comps   struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.NotEmpty(t, doc.Servers)
	require.NotEmpty(t, doc.Servers[0]["description"])
	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			where := method + " " + path
			id, _ := op["operationId"].(string)
			require.NotEmpty(t, id, where)
			require.False(t, ids[id], "%s: operationId %s is not unique", where, id)
			ids[id] = true
			require.NotContains(t, id, "V1", "%s: a readable id, not a mechanical one", where)
			require.NotEmpty(t, op["tags"], where)
			require.NotEmpty(t, op["summary"], where)
			require.NotEmpty(t, op["description"], where)
			require.Contains(t, op, "security", where)
			responses := op["responses"].(map[string]any)
			for _, code := range []string{"400", "500"} {
				require.Contains(t, responses, code, where)
				content := responses[code].(map[string]any)["content"].(map[string]any)
				require.Contains(t, content, "application/problem+json", where)
			}
			require.NotContains(t, responses, "default", "%s: every status listed, no default", where)
			for _, p := range op["parameters"].([]any) {
				require.NotEmpty(t, p.(map[string]any)["description"], "%s: parameter %v", where, p.(map[string]any)["name"])
			}
			if op["x-tenantry-access"] == "anyone" || op["x-tenantry-access"] == "Stripe (signed)" || op["x-tenantry-access"] == "invitation holder" {
				require.Equal(t, []any{}, op["security"], "%s: a public operation says security: []", where)
			}
		}
	}
	for _, id := range []string{"createTenant", "getTenant", "updateTenant", "changePlan", "listMembers", "inviteMember", "updateMember",
		"removeMember", "listInvitations", "revokeInvitation", "acceptInvitation", "listApiKeys", "createApiKey", "revokeApiKey",
		"recordUsage", "getUsage", "getBilling", "exportAuditEvents", "verifyAuditChain", "getAuditState", "listTenants",
		"suspendTenant", "reactivateTenant", "closeTenant", "receiveStripeWebhook"} {
		require.True(t, ids[id], "operationId %s", id)
	}
	for name, s := range doc.Comps.Schemas {
		props, _ := s["properties"].(map[string]any)
		for prop, p := range props {
			require.NotEmpty(t, p.(map[string]any)["description"], "schema %s, property %s", name, prop)
		}
		if len(props) > 0 && !strings.HasSuffix(name, "Request") { // a request may have only optional fields
			required, _ := s["required"].([]any)
			require.NotEmpty(t, required, "schema %s lists what it requires", name)
		}
	}
	tagNames := []string{}
	for _, tg := range doc.Tags {
		tagNames = append(tagNames, tg["name"].(string))
		require.NotEmpty(t, tg["description"])
	}
	for _, item := range doc.Paths {
		for _, op := range item {
			require.True(t, slices.Contains(tagNames, op["tags"].([]any)[0].(string)))
		}
	}
}

func sprintf(f string, args ...any) string { return fmt.Sprintf(f, args...) }
