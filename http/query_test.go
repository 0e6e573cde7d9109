package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestQuery_UnknownParametersAnswer400OnEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")

	r := a.do(req{method: "GET", path: "/v1/usage?granularity=hour&limt=10&Metric=x", token: ten.key})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
	require.Equal(t, "invalid-request", r.problemType())
	require.Len(t, r.get("errors").([]any), 2)
	require.Equal(t, "Metric", r.get("errors").([]any)[0].(map[string]any)["field"])
	require.Equal(t, "limt", r.get("errors").([]any)[1].(map[string]any)["field"])

	// Every operation of the document: an unknown parameter is refused, naming it, and each
	// parameter the document declares is never refused as unknown (one declaration).
	doc := a.server.Document()
	for path, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			concrete := strings.NewReplacer("{workspace}", ten.slug, "{id}", uuid.NewString()).Replace(path)
			token := ten.key
			if strings.HasPrefix(path, "/v1/admin/") || path == "/v1/tenants" {
				token = operatorToken
			}
			send := func(query string) response {
				var body any
				if method != "get" && method != "delete" {
					body = "{}"
				}
				return a.do(req{method: strings.ToUpper(method), path: concrete + "?" + query, token: token, body: body})
			}
			r := send("bogus=1")
			require.Equal(t, http.StatusBadRequest, r.status, "%s %s: %s", method, path, r.raw)
			if method != "head" { // a HEAD answer has no body to name it in
				require.Contains(t, string(r.raw), `"field":"bogus"`, "%s %s", method, path)
			}
			for _, p := range op["parameters"].([]map[string]any) {
				if p["in"] != "query" {
					continue
				}
				r := send(p["name"].(string) + "=")
				require.NotContains(t, string(r.raw), "is not a query parameter", "%s %s ?%s", method, path, p["name"])
			}
		}
	}
}
