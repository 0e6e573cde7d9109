package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

func TestUsage_ABatchNamesEveryInvalidFieldUpToTheBound(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	fields := func(r response) []string {
		var out []string
		for _, e := range r.get("errors").([]any) {
			out = append(out, e.(map[string]any)["field"].(string))
		}
		return out
	}

	// Two bad records, one with two bad fields: all three are named.
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: `{"records":[
		{"metric":"api_calls","quantity":1,"idempotency_key":"ok-1"},
		{"metric":"API","quantity":0,"idempotency_key":"bad-1"},
		{"metric":"api_calls","quantity":1,"idempotency_key":"has space"}]}`})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
	require.Equal(t, []string{"records[1].metric", "records[1].quantity", "records[2].idempotency_key"}, fields(r))

	// Many bad records: the list stops at the bound and says how many more there were.
	recs := make([]string, 150)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"metric":"BAD","quantity":-1,"idempotency_key":"k-%d"}`, i)
	}
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: `{"records":[` + strings.Join(recs, ",") + `]}`})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.raw))
	got := fields(r)
	require.Len(t, got, httpapi.MaxFieldErrors+1)
	require.Equal(t, "records[49].quantity", got[httpapi.MaxFieldErrors-1])
	require.Equal(t, "records", got[httpapi.MaxFieldErrors])
	require.Contains(t, r.get("errors").([]any)[httpapi.MaxFieldErrors].(map[string]any)["message"], "200 more")
}
