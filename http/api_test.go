package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/oastest"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func TestAPI_TenantLifecycleAndReadYourWrites(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")

	r := a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, ten.slug, r.str("slug"))
	require.Equal(t, "pro", r.str("plan"))
	require.Equal(t, "active", r.str("status"))

	// The same through the workspace path, the subdomain and X-Tenant.
	for _, rq := range []req{
		{method: "GET", path: "/v1/workspaces/" + ten.slug + "/tenant", token: ten.key},
		{method: "GET", path: "/v1/workspaces/" + ten.id + "/tenant", token: ten.key},
		{method: "GET", path: "/v1/tenant", token: ten.key, host: ten.slug + ".tenantry.test"},
		{method: "GET", path: "/v1/tenant", token: ten.key, header: map[string]string{"X-Tenant": ten.slug}},
		{method: "GET", path: "/v1/tenant", token: ten.key, header: map[string]string{"X-Tenant": ten.id}},
	} {
		r := a.do(rq)
		require.Equal(t, http.StatusOK, r.status, "%+v: %s", rq, r.raw)
		require.Equal(t, ten.id, r.str("id"))
	}

	// Invite, accept, and see the new member straight away.
	inv := a.do(req{method: "POST", path: "/v1/members", token: ten.key, body: map[string]any{"email": "ed@example.com", "role": "editor"}})
	require.Equal(t, http.StatusCreated, inv.status, string(inv.raw))
	acc := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.str("token")}})
	require.Equal(t, http.StatusCreated, acc.status, string(acc.raw))
	require.Equal(t, "editor", acc.str("member", "role"))
	editorKey := acc.str("api_key", "key")
	again := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.str("token")}})
	require.Equal(t, http.StatusNotFound, again.status, "an invitation is single-use: %s", again.raw)

	list := a.do(req{method: "GET", path: "/v1/members", token: editorKey})
	require.Equal(t, http.StatusOK, list.status, string(list.raw))
	require.Len(t, list.get("members"), 2)

	// The editor may record usage but not manage members.
	r = a.do(req{method: "POST", path: "/v1/members", token: editorKey, body: map[string]any{"email": "x@example.com", "role": "viewer"}})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "forbidden", r.problemType())

	// Rename, then plan change; the answers carry the seq.
	r = a.do(req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: map[string]any{"name": "Renamed"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.NotZero(t, r.get("seq"))
	r = a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, "Renamed", r.str("name"))

	// Suspended: reads and billing work, other writes are refused.
	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/suspend", token: operatorToken, body: map[string]any{"note": "test"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "suspended", r.str("status"))
	r = a.do(req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: map[string]any{"name": "Nope"}})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "tenant-suspended", r.problemType())
	// The plan route is a billing route: a suspended tenant may change its plan (as it may
	// pay), and stays suspended (a suspension cannot be dodged by a plan change).
	r = a.do(req{method: "PUT", path: "/v1/tenant/plan", token: ten.key, body: map[string]any{"plan": "enterprise"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, []any{"enterprise", "suspended"}, []any{r.str("tenant", "plan"), r.str("tenant", "status")})
	r = a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, []any{"enterprise", "suspended"}, []any{r.str("plan"), r.str("status")})
	r = a.do(req{method: "GET", path: "/v1/billing", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	// Closed: 410 for everything.
	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/close", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, http.StatusGone, r.status)
	require.Equal(t, "tenant-closed", r.problemType())
}

func TestAPI_InvitationsExpireAndRevokedKeysStopAtOnce(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	a := newAPI(t, func(d *httpapi.Deps) {
		d.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	ten := a.createTenant("pro")
	inv := a.do(req{method: "POST", path: "/v1/members", token: ten.key, body: map[string]any{"email": "late@example.com", "role": "viewer"}})
	require.Equal(t, http.StatusCreated, inv.status, string(inv.raw))
	offset.Store(int64(8 * 24 * time.Hour))
	r := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.str("token")}})
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	require.Contains(t, r.str("detail"), "expired")
	offset.Store(0)

	// A revoked key is refused on its very next request.
	k := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": "ci", "role": "editor"}})
	require.Equal(t, http.StatusCreated, k.status, string(k.raw))
	key := k.str("api_key", "key")
	require.Equal(t, http.StatusOK, a.do(req{method: "GET", path: "/v1/usage", token: key}).status)
	r = a.do(req{method: "DELETE", path: "/v1/api-keys/" + k.str("api_key", "id"), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/usage", token: key})
	require.Equal(t, http.StatusUnauthorized, r.status)
	// The key list shows it revoked, and never a secret.
	list := a.do(req{method: "GET", path: "/v1/api-keys", token: ten.key})
	require.NotContains(t, string(list.raw), key)
	require.Contains(t, string(list.raw), `"revoked_at"`)
}

// A key revoked through another replica stops working on this one within the cache's TTL,
// even while it is busy: cached entries are refreshed in the background as they age, and
// those requests never wait for the database.
func TestAPI_AKeyRevokedElsewhereStopsWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	other := httptest.NewServer(oastest.Handler(t, httpapi.New(a.deps))) // another replica: its own caches
	defer other.Close()
	ten := a.createTenant("pro")
	k := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": "ci", "role": "editor"}})
	require.Equal(t, http.StatusCreated, k.status, string(k.raw))
	key := k.str("api_key", "key")

	busy := func(until time.Time) (ok, refused int) {
		for time.Now().Before(until) {
			switch a.do(req{method: "GET", path: "/v1/tenant", token: key}).status {
			case http.StatusOK:
				ok++
			case http.StatusUnauthorized:
				refused++
			default:
				t.Fatal("unexpected status")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return ok, refused
	}
	ok, refused := busy(time.Now().Add(3 * time.Second)) // longer than the TTL: refreshed, never dropped
	require.Positive(t, ok)
	require.Zero(t, refused)

	hr, err := http.NewRequest("DELETE", other.URL+"/v1/api-keys/"+k.str("api_key", "id"), nil)
	require.NoError(t, err)
	hr.Header.Set("Authorization", "Bearer "+ten.key)
	res, err := http.DefaultClient.Do(hr)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	revoked := time.Now()
	pgtest.Until(t, 10*time.Second, 5*time.Millisecond, func() bool {
		return a.do(req{method: "GET", path: "/v1/tenant", token: key}).status == http.StatusUnauthorized
	})
	require.Less(t, time.Since(revoked), 3*time.Second, "a revoked key is refused within the cache TTL (2 s) and a refresh")
	ok, _ = busy(time.Now().Add(500 * time.Millisecond))
	require.Zero(t, ok, "and stays refused")
}

// A busy key's cache entry is refreshed in the background before it expires, so no request
// ever waits for (or fails with) the key's lookup. The test makes every lookup of the key
// fail for one second that covers the moment the first cached entry expires: without the
// refresh, the request that finds the entry expired looks the key up itself and fails;
// with it, the entry was renewed half a TTL in (before the failing second) and outlives it.
func TestAPI_ABusyKeyIsRefreshedBeforeItExpiresSoNoRequestPaysTheLookup(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	super := pgtest.Pool(t, testDB.SuperURL, 1)
	ten := a.createTenant("pro")
	apiKeys := pgx.Identifier{"tenant_" + strings.ReplaceAll(ten.id, "-", ""), "api_keys"}.Sanitize()

	// The key is cached by its first request, at a moment between sent and cached. A first
	// request slower than the margins below (a loaded machine) is tried again with a new key.
	var key string
	var cached time.Time
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 5, "no first request of a key answered within 300 ms")
		k := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": "ci", "role": "editor"}})
		require.Equal(t, http.StatusCreated, k.status, string(k.raw))
		key = k.str("api_key", "key")
		sent := time.Now()
		r := a.do(req{method: "GET", path: "/v1/tenant", token: key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		if cached = time.Now(); cached.Sub(sent) < 300*time.Millisecond {
			break
		}
	}

	// The first entry expires 2 s (the TTL) after it was cached, so within [cached+1.7 s,
	// cached+2 s]; lookups fail from cached+1.4 s to cached+2.4 s. The refresh, asked for by
	// the first request past half the TTL (cached+1 s), renews it until about cached+3 s.
	failFrom, failUntil, end := cached.Add(1400*time.Millisecond), cached.Add(2400*time.Millisecond), cached.Add(3400*time.Millisecond)
	failing := false
	t.Cleanup(func() {
		if failing {
			_, _ = super.Exec(context.Background(), `GRANT SELECT ON `+apiKeys+` TO tenantry_app`)
		}
	})
	served := 0
	for now := time.Now(); now.Before(end); now = time.Now() {
		if !failing && now.After(failFrom) && now.Before(failUntil) {
			_, err := super.Exec(context.Background(), `REVOKE SELECT ON `+apiKeys+` FROM tenantry_app`)
			require.NoError(t, err)
			failing = true
		}
		if failing && now.After(failUntil) {
			_, err := super.Exec(context.Background(), `GRANT SELECT ON `+apiKeys+` TO tenantry_app`)
			require.NoError(t, err)
			failing = false
		}
		r := a.do(req{method: "GET", path: "/v1/tenant", token: key})
		require.Equal(t, http.StatusOK, r.status, "%v after the key was cached (lookups failing: %v): %s", time.Since(cached), failing, r.raw)
		served++
		time.Sleep(5 * time.Millisecond)
	}
	require.Greater(t, served, 20)
	// The failing second really made lookups fail: a key not cached yet is refused then.
	k := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": "new", "role": "editor"}})
	require.Equal(t, http.StatusCreated, k.status, string(k.raw))
	_, err := super.Exec(context.Background(), `REVOKE SELECT ON `+apiKeys+` FROM tenantry_app`)
	require.NoError(t, err)
	failing = true
	r := a.do(req{method: "GET", path: "/v1/tenant", token: k.str("api_key", "key")})
	require.GreaterOrEqual(t, r.status, 500, "a lookup while SELECT is revoked fails: %s", r.raw)
}

// A key used by many concurrent requests costs a few database lookups however long it is
// busy: one when first seen, then one background refresh a second; never a burst of them
// each time its cache entry would have expired.
func TestAPI_ABusyKeyIsLookedUpOnceASecondAtMost(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("enterprise")
	lookups := func() float64 {
		r := a.do(req{method: "GET", path: "/metrics"})
		require.Equal(t, http.StatusOK, r.status)
		for _, line := range strings.Split(string(r.raw), "\n") {
			if v, ok := strings.CutPrefix(line, "tenantry_api_key_lookups_total "); ok {
				n, err := strconv.ParseFloat(v, 64)
				require.NoError(t, err)
				return n
			}
		}
		t.Fatal("no tenantry_api_key_lookups_total series")
		return 0
	}
	before := lookups()
	busy := 5 * time.Second // more than two TTLs
	deadline := time.Now().Add(busy)
	var wg sync.WaitGroup
	var served atomic.Int64
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if a.do(req{method: "GET", path: "/v1/tenant", token: ten.key}).status == http.StatusOK {
					served.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	n := lookups() - before
	require.Positive(t, served.Load())
	require.LessOrEqual(t, n, busy.Seconds()+2, "%d requests cost %v lookups", served.Load(), n)
}
