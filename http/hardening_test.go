package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func TestUsage_RefusesQuantitiesAboveTheMaximumWith422(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	one := func(q string) string {
		return `{"metric":"api_calls","quantity":` + q + `,"idempotency_key":"` + uuid.NewString() + `"}`
	}
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: one("9223372036854775807")})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.raw))
	require.Equal(t, "quantity", r.get("errors").([]any)[0].(map[string]any)["field"])
	require.Contains(t, r.str("detail"), "1000000000000")

	// Two maximal records in one batch were stored, and summed to -2.
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key,
		body: `{"records":[` + one("9223372036854775807") + `,` + one("9223372036854775807") + `]}`})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.raw))
	require.Equal(t, "records[0].quantity", r.get("errors").([]any)[0].(map[string]any)["field"])

	// The maximum itself is accepted, and so is a batch of them.
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key,
		body: `{"records":[` + one("1000000000000") + `,` + one("1000000000000") + `]}`})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/usage?min_seq=" + jsonNumber(t, r.get("seq")), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	series := r.get("series").([]any)
	require.Len(t, series, 1)
	require.Equal(t, float64(2_000_000_000_000), series[0].(map[string]any)["total"])
}

// poison appends a usage event the API refuses today (stored before the bound, or
// forged): one record of the maximal int64 twice over, which no usage sum can hold.
func poison(t *testing.T, a *api, tenant string) int64 {
	t.Helper()
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	rec := func() string {
		return fmt.Sprintf(`{"metric":"api_calls","quantity":%d,"occurred_at":%q,"idempotency_key":%q}`, int64(math.MaxInt64), at, uuid.NewString())
	}
	res, err := a.deps.Store.Append(context.Background(), uuid.MustParse(tenant), usage.StreamID, eventstore.Any,
		eventstore.NewEvent{Type: usage.TypeBatchRecorded, SchemaVersion: 1, Data: []byte(`{"records":[` + rec() + `,` + rec() + `]}`)})
	require.NoError(t, err)
	return res.LastSeq
}

func waitForFailure(t *testing.T, a *api, tenant string) eventstore.ProjectionFailure {
	t.Helper()
	var found eventstore.ProjectionFailure
	worker := pgtest.Pool(t, testDB.WorkerURL, 2) // failures are listed across tenants: the worker's role
	pgtest.Until(t, 30*time.Second, 20*time.Millisecond, func() bool {
		fl, err := eventstore.New(worker).ProjectionFailures(context.Background())
		require.NoError(t, err)
		for _, f := range fl {
			if f.Tenant.String() == tenant {
				found = f
				return true
			}
		}
		return false
	})
	return found
}

// The attack: one usage event the sums cannot hold froze the tenant's read models, so a
// revoked key kept working, suspension and closure had no effect, and every write waited
// out the settle timeout. Now only the usage projection stops.
func TestProjections_UsageFailureLeavesAuthorisationWorking(t *testing.T) {
	t.Parallel()
	a := newAPI(t) // SettleTimeout is a minute: a write that waits for it fails the bounds below
	ten := a.createTenant("pro")
	k := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": "ci", "role": "editor"}})
	require.Equal(t, http.StatusCreated, k.status, string(k.raw))
	editor := k.str("api_key", "key")
	r := a.do(req{method: "POST", path: "/v1/usage", token: editor, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "before"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))

	seq := poison(t, a, ten.id)
	f := waitForFailure(t, a, ten.id)
	require.Equal(t, eventstore.ProjectionUsage, f.Projection)
	require.Equal(t, seq, f.FailedSeq)

	// Usage reads say the read model is stopped, at once, with or without min_seq.
	start := time.Now()
	r = a.do(req{method: "GET", path: fmt.Sprintf("/v1/usage?min_seq=%d", seq), token: ten.key})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	require.Equal(t, "usage-unavailable", r.problemType())
	require.Less(t, time.Since(start), 5*time.Second)
	r = a.do(req{method: "GET", path: "/v1/usage", token: ten.key})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/billing", token: ten.key})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	require.Equal(t, "usage-unavailable", r.problemType())
	r = a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, "authorisation reads are unaffected: %s", r.raw)

	// Writes are still accepted: they are events.
	r = a.do(req{method: "POST", path: "/v1/usage", token: editor, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "after"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))

	// Revoking the editor key takes effect, and the write does not wait out the settle timeout.
	start = time.Now()
	r = a.do(req{method: "DELETE", path: "/v1/api-keys/" + k.str("api_key", "id"), token: ten.key})
	require.Less(t, r.status, 300, string(r.raw))
	require.Less(t, time.Since(start), 5*time.Second, "the revocation waited for the stopped usage projection")
	r = a.do(req{method: "GET", path: "/v1/tenant", token: editor})
	require.Equal(t, http.StatusUnauthorized, r.status, "a revoked key must not keep working: %s", r.raw)

	// The operator's suspension and closure take effect.
	start = time.Now()
	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/suspend", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Less(t, time.Since(start), 5*time.Second)
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "suspended"}})
	require.Equal(t, http.StatusForbidden, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/close", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "closed"}})
	require.Equal(t, http.StatusGone, r.status, string(r.raw))
}

// When the auth projection itself cannot apply an event, the tenant's credentials cannot
// be trusted: its requests answer 503, within the credential cache's bound, and no other
// tenant notices.
func TestProjections_AuthFailureFailsClosedForThatTenantOnly(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	sick, healthy := a.createTenant("pro"), a.createTenant("pro")
	r := a.do(req{method: "GET", path: "/v1/tenant", token: sick.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw)) // cached now
	_, err := a.deps.Store.Append(context.Background(), uuid.MustParse(sick.id), "odd", eventstore.Any,
		eventstore.NewEvent{Type: "tenant.unknown_thing", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	f := waitForFailure(t, a, sick.id)
	require.Equal(t, eventstore.ProjectionAuth, f.Projection)

	failedAt := time.Now()
	pgtest.Until(t, 10*time.Second, 50*time.Millisecond, func() bool {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: sick.key})
		return r.status == http.StatusServiceUnavailable && r.problemType() == "tenant-unavailable"
	})
	require.Less(t, time.Since(failedAt), 2*httpapi.CredentialTTL+time.Second, "a cached credential outlived its bound")
	for _, path := range []string{"/v1/members", "/v1/api-keys", "/v1/usage"} {
		r := a.do(req{method: "GET", path: path, token: sick.key})
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: %s", path, r.raw)
	}
	r = a.do(req{method: "POST", path: "/v1/usage", token: sick.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "x"}})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))

	r = a.do(req{method: "GET", path: "/v1/tenant", token: healthy.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
}

// A min_seq beyond the tenant's last event can never be reached by its own writes: it is
// refused at once, naming the head, instead of holding the request (and polling) for the
// whole settle timeout.
func TestMinSeq_BeyondTheHeadIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	for _, path := range []string{"/v1/tenant", "/v1/members", "/v1/api-keys", "/v1/usage", "/v1/billing"} {
		start := time.Now()
		r := a.do(req{method: "GET", path: path + "?min_seq=999999999", token: ten.key})
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", path, r.raw)
		require.Equal(t, "min_seq", r.get("errors").([]any)[0].(map[string]any)["field"])
		require.Contains(t, r.str("detail"), "last event seq 3", path)
		require.Less(t, time.Since(start), 2*time.Second, path)
	}
	r := a.do(req{method: "GET", path: "/v1/tenant?min_seq=3", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
}
