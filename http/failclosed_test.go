package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// The audit's case: an api_key.revoked event for a key that does not exist, appended as
// tenantry_app through append_events in the tenant's context, fails in the projector's Go
// code ("api key ... missing"). It was retried forever as if transient: never listed, the
// tenant never refused, and from then on a revoked key kept working and a closed tenant
// kept writing. Now the auth projection stops on it, and the tenant fails closed within the
// credential cache's bound; other tenants are unaffected.
func TestProjections_GoSideAuthFailureFailsClosed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	sick, healthy := a.createTenant("pro"), a.createTenant("pro")
	k := a.do(req{method: "POST", path: "/v1/api-keys", token: sick.key, body: map[string]any{"name": "ci", "role": "editor"}})
	require.Equal(t, http.StatusCreated, k.status, string(k.raw))
	editor := k.str("api_key", "key")
	for _, key := range []string{sick.key, editor} { // cached now
		r := a.do(req{method: "GET", path: "/v1/tenant", token: key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
	}

	bad, err := a.deps.Registry.Encode(membership.APIKeyRevoked{KeyID: uuid.New(), Reason: "revoked"}, eventstore.Metadata{Actor: "test"})
	require.NoError(t, err)
	res, err := a.deps.Store.Append(context.Background(), uuid.MustParse(sick.id), "member-"+sick.adminID, eventstore.Any, bad)
	require.NoError(t, err)
	f := waitForFailure(t, a, sick.id)
	require.Equal(t, eventstore.ProjectionAuth, f.Projection)
	require.Equal(t, res.LastSeq, f.FailedSeq)

	listed := time.Now()
	pgtest.Until(t, 10*time.Second, 20*time.Millisecond, func() bool {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: sick.key})
		return r.status == http.StatusServiceUnavailable && r.problemType() == "tenant-unavailable"
	})
	require.Less(t, time.Since(listed), httpapi.CredentialTTL+500*time.Millisecond, "a cached credential outlived its bound")
	pgtest.Until(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return a.do(req{method: "GET", path: "/v1/tenant", token: editor}).status == http.StatusServiceUnavailable
	})
	require.Less(t, time.Since(listed), httpapi.CredentialTTL+500*time.Millisecond, "a cached credential outlived its bound")

	r := a.do(req{method: "DELETE", path: "/v1/api-keys/" + k.str("api_key", "id"), token: sick.key})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/usage", token: editor, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "x"}})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "a write must not be accepted on stale credentials: %s", r.raw)

	// The operator's closure is recorded at once (the stopped projection ends its wait) and
	// the tenant stays refused, not open to writes.
	start := time.Now()
	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + sick.id + "/close", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Less(t, time.Since(start), 5*time.Second)
	r = a.do(req{method: "POST", path: "/v1/usage", token: sick.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "y"}})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))

	r = a.do(req{method: "GET", path: "/v1/tenant", token: healthy.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
}

// holdAuthProjection takes the auth projection's lock of a tenant on a connection of its
// own, as a projector replica stuck mid-batch would hold it: the tenant's auth projection
// falls behind its events (nothing fails, nothing is listed) until release is called.
func holdAuthProjection(t *testing.T, tenant string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDB.SuperURL)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('projection:' || $2 || ':' || $1, 0))`, tenant, eventstore.ProjectionAuth)
	require.NoError(t, err)
	released := false
	release = func() {
		if !released {
			released = true
			_ = conn.Close(ctx) // ends the session, and with it the lock
		}
	}
	t.Cleanup(release)
	return release
}

// Nothing failed closed while the auth projection was merely behind (stuck, or backing off
// on a transient error that never clears): a revocation answered 2xx after the settle
// timeout, and the revoked key kept working without bound. Now the write says it is not in
// force (503), the tenant's credentials are refused once an event older than AuthLagBound
// is unapplied (within the credential cache's bound more), other tenants are unaffected,
// and all is well again once the projection catches up.
func TestProjections_AuthLagFailsClosedWithinTheBoundAndRecovers(t *testing.T) {
	t.Parallel()
	const settle, bound = 2 * time.Second, 3 * time.Second
	a := newAPI(t, func(d *httpapi.Deps) { d.SettleTimeout, d.AuthLagBound = settle, bound })
	sick, healthy := a.createTenant("pro"), a.createTenant("pro")
	k := a.do(req{method: "POST", path: "/v1/api-keys", token: sick.key, body: map[string]any{"name": "ci", "role": "editor"}})
	require.Equal(t, http.StatusCreated, k.status, string(k.raw))
	editor := k.str("api_key", "key")
	r := a.do(req{method: "GET", path: "/v1/tenant", token: editor})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	release := holdAuthProjection(t, sick.id)
	recorded := time.Now()
	r = a.do(req{method: "DELETE", path: "/v1/api-keys/" + k.str("api_key", "id"), token: sick.key})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "a revocation not in force must not answer 2xx: %s", r.raw)
	require.Equal(t, "tenant-unavailable", r.problemType())
	require.Contains(t, r.str("detail"), "recorded")
	require.GreaterOrEqual(t, time.Since(recorded), settle)

	// Within the bound the revoked key may still be served; past it, never.
	for {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: editor})
		if r.status == http.StatusServiceUnavailable {
			require.Equal(t, "tenant-unavailable", r.problemType())
			break
		}
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Less(t, time.Since(recorded), bound+httpapi.CredentialTTL+time.Second,
			"the revoked key was served past the bound")
		time.Sleep(50 * time.Millisecond)
	}
	require.Less(t, time.Since(recorded), bound+httpapi.CredentialTTL+time.Second)
	for _, key := range []string{sick.key, editor} {
		r := a.do(req{method: "POST", path: "/v1/usage", token: key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": uuid.NewString()}})
		require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	}
	r = a.do(req{method: "GET", path: "/v1/tenant", token: healthy.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	// Nothing is stopped: once the projection catches up, the tenant is served again, with
	// the revocation in force.
	release()
	pgtest.Until(t, 30*time.Second, 50*time.Millisecond, func() bool {
		return a.do(req{method: "GET", path: "/v1/tenant", token: sick.key}).status == http.StatusOK
	})
	r = a.do(req{method: "GET", path: "/v1/tenant", token: editor})
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
}
