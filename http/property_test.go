package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/oastest"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/projections"
)

// propertyMaxQuantity is the largest quantity a usage record may carry.
const propertyMaxQuantity = usage.MaxQuantity

// A model of one tenant as the property test drives it: what must be true of each key.
type propKey struct {
	key, id, member, role string
	revoked               bool
}

// propInvite is an invitation kept pending: it works while its inviter may still grant its
// role, and never once they were removed or demoted (or it was accepted).
type propInvite struct {
	id, token, inviter, role, email string
	dead                            bool
}

type propTenant struct {
	fix     tenantFixture
	keys    []*propKey
	members map[string]string // member id → role, for members still present
	invites []*propInvite
	status  string // active, suspended, closed
	usage   map[string]*big.Int
	hourly  map[string]*big.Int // metric@hour (RFC 3339) → total
	seq     int64
	// The last status change (suspension, reactivation): made through via, answered at
	// changed; another server may serve the old status until the bound has passed.
	via     *api
	changed time.Time
	probing sync.WaitGroup // checks that a change is in force on the other server
}

// liveKeys are the keys that must still work, optionally only those of some roles.
func (pt *propTenant) liveKeys(roles ...string) []*propKey {
	var out []*propKey
	for _, k := range pt.keys {
		if k.revoked {
			continue
		}
		if _, ok := pt.members[k.member]; !ok {
			continue
		}
		if len(roles) == 0 {
			out = append(out, k)
			continue
		}
		for _, r := range roles {
			if k.role == r {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// addUsage counts q of metric at the hour starting at hour.
func (pt *propTenant) addUsage(metric string, hour time.Time, q *big.Int) {
	if pt.usage[metric] == nil {
		pt.usage[metric] = new(big.Int)
	}
	pt.usage[metric].Add(pt.usage[metric], q)
	k := metric + "@" + hour.UTC().Format(time.RFC3339)
	if pt.hourly[k] == nil {
		pt.hourly[k] = new(big.Int)
	}
	pt.hourly[k].Add(pt.hourly[k], q)
}

// pickQuantity draws from the whole accepted range, its extremes included.
func pickQuantity(rng *rand.Rand) int64 {
	switch rng.IntN(6) {
	case 0:
		return propertyMaxQuantity
	case 1:
		return propertyMaxQuantity - int64(rng.IntN(3))
	case 2:
		return 1
	case 3:
		return int64(rng.IntN(1000)) + 1
	default:
		return rng.Int64N(propertyMaxQuantity) + 1
	}
}

// credentialBound is the documented bound within which a change made through one API
// process is in force on another: a checked credential (key, role, tenant status) is cached
// for at most 2 s.
const credentialBound = 2 * time.Second

// replica is a second API server on a's database, as a second API process would be: its own
// pool, store, credential cache, rate limits and read-your-writes waits, and no projector
// (a's pipeline projects for both). Only the notifier that wakes the relay after an append
// is a's: both servers live in this test's process, whose relay ignores its own NOTIFYs.
func (a *api) replica(t testing.TB) *api {
	t.Helper()
	store, err := eventstore.NewStore(pgtest.Pool(t, testDB.AppURL, 8), eventstore.StoreConfig{Notifier: a.notifier})
	require.NoError(t, err)
	d := a.deps
	d.Store = store
	h, server := httpapi.NewServer(d)
	srv := httptest.NewUnstartedServer(oastest.Handler(t, h))
	d.Timeouts.Apply(srv.Config)
	srv.Start()
	t.Cleanup(srv.Close)
	return &api{t: t, url: srv.URL, deps: d, srv: srv, server: server, notifier: a.notifier}
}

// propertySeed is TENANTRY_PROPERTY_SEED when set (to replay a run), else the time.
func propertySeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TENANTRY_PROPERTY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "TENANTRY_PROPERTY_SEED")
		seed = v
	}
	t.Logf("seed %d (TENANTRY_PROPERTY_SEED=%d replays this run)", seed, seed)
	return seed
}

// TestProperty_RandomCommandsKeepReadModelsEqualToARebuildAndAuthorisationPrompt runs random
// command sequences over several tenants and every role, through two API servers on one
// database, with usage quantities from the whole accepted range (single records, small
// batches, and batches of up to 1,000 records of up to the maximum into one hour, whose
// total passes 2^53 and, with records stored before usage.MaxQuantity, an int64). After
// every revocation, removal, role change, suspension and closure the very next request
// through the server that made it sees it, and the other server within the documented
// bound (2 s); invitations kept pending stop working the moment their inviter is removed or
// demoted; no answer is ever a 5xx; and at the end every hourly total equals the model and
// every read model equals a rebuild from the events. TENANTRY_PROPERTY_SEED replays a run.
func TestProperty_RandomCommandsKeepReadModelsEqualToARebuildAndAuthorisationPrompt(t *testing.T) {
	t.Parallel()
	seed := propertySeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// Every refused credential counts against its client address's failed-login budget: the
	// checks below come from addresses of their own (through a trusted proxy) so that the
	// property tested is revocation, not the budget.
	a := newAPI(t, func(d *httpapi.Deps) { d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	b := a.replica(t)
	servers := []*api{a, b}
	other := func(s *api) *api {
		if s == a {
			return b
		}
		return a
	}
	var clients atomic.Uint32
	fresh := func() map[string]string {
		n := clients.Add(1)
		return map[string]string{"X-Forwarded-For": fmt.Sprintf("198.18.%d.%d", n>>8&0xff, n&0xff)}
	}

	roles := []string{"admin", "editor", "viewer", "billing_manager", "auditor"}
	// Three tenants are open at any time: one closed is replaced by a new one (and kept for
	// the final checks).
	newTenant := func(s *api) *propTenant {
		fix := s.createTenant("enterprise")
		return &propTenant{fix: fix, members: map[string]string{fix.adminID: "admin"}, status: "active",
			usage: map[string]*big.Int{}, hourly: map[string]*big.Int{},
			keys: []*propKey{{key: fix.key, id: keyID(t, fix.key), member: fix.adminID, role: "admin"}}}
	}
	tenants := make([]*propTenant, 3)
	for i := range tenants {
		tenants[i] = newTenant(a)
	}
	open := slices.Clone(tenants)
	// The hour the large batches go into. One tenant's starts with two records of 2^63-1
	// stored before usage.MaxQuantity existed (events are immutable and replay as they are).
	bigHour := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	for i := 0; i < 2; i++ {
		pt := tenants[0]
		res, err := a.deps.Store.Append(context.Background(), uuid.MustParse(pt.fix.id), usage.StreamID, eventstore.Any, eventstore.NewEvent{
			Type: usage.TypeRecorded, SchemaVersion: 1, Data: []byte(fmt.Sprintf(`{"metric":"api_calls","quantity":%d,"occurred_at":%q,"idempotency_key":%q}`,
				int64(math.MaxInt64), bigHour.Add(time.Minute).Format(time.RFC3339), uuid.NewString()))})
		require.NoError(t, err)
		pt.seq = res.LastSeq
		pt.addUsage("api_calls", bigHour, big.NewInt(math.MaxInt64))
	}

	// noteSeq keeps the highest seq an answer reported.
	noteSeq := func(pt *propTenant, r response) {
		if n, ok := r.get("seq").(float64); ok && int64(n) > pt.seq {
			pt.seq = int64(n)
		}
	}
	check := func(r response, what string) {
		t.Helper()
		require.Less(t, r.status, 500, "%s: never a 5xx (seed %d): %s", what, seed, r.raw)
	}
	// inForceElsewhere checks, in the background, that a change answered at changed is in
	// force on server s within the bound: probe is sent until refused (refused says so), and
	// no probe sent after the bound may be served as before. Callers have s serve what the
	// change takes away just before it (warm), so that s holds it in its cache.
	var probes sync.WaitGroup
	t.Cleanup(probes.Wait) // before the servers close, also when the test fails
	var stats struct {
		largeBatches, keptAccepted, deadRefused, probes atomic.Int32
		staleWithinBound                                atomic.Int32 // probes first served as before: the bound was exercised
	}
	inForceElsewhere := func(pt *propTenant, s *api, changed time.Time, probe func() req, refused func(response) bool, what string) {
		pt.probing.Add(1)
		probes.Add(1)
		stats.probes.Add(1)
		go func() {
			defer probes.Done()
			defer pt.probing.Done()
			for attempt := 0; ; attempt++ {
				sent := time.Now()
				r := s.do(probe())
				if r.status >= 500 {
					t.Errorf("%s: never a 5xx (seed %d): %s", what, seed, r.raw)
					return
				}
				if refused(r) {
					if attempt > 0 {
						stats.staleWithinBound.Add(1)
					}
					return
				}
				if late := sent.Sub(changed); late >= credentialBound {
					t.Errorf("%s: still served as before by the other server %s after the change answered, beyond the bound of %s (seed %d): %d %s",
						what, late, credentialBound, seed, r.status, r.raw)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	keyProbe := func(k *propKey) func() req {
		return func() req { return req{method: "GET", path: "/v1/tenant", token: k.key, header: fresh()} }
	}
	keyRefused := func(r response) bool { return r.status == http.StatusUnauthorized || r.status == http.StatusGone }
	// warm has s serve key k once, so s caches it before a change takes it away.
	warm := func(s *api, k *propKey) {
		t.Helper()
		r := s.do(req{method: "GET", path: "/v1/tenant", token: k.key})
		check(r, "warm")
		require.Equal(t, http.StatusOK, r.status, "a live key works on either server (seed %d): %s", seed, r.raw)
	}
	// mustRefuse: a credential that was just taken away through s must not work on s's next
	// request, and on the other server within the bound.
	mustRefuse := func(pt *propTenant, s *api, changed time.Time, k *propKey, why string) {
		t.Helper()
		r := s.do(req{method: "GET", path: "/v1/tenant", token: k.key, header: fresh()})
		check(r, why)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusGone}, r.status, "%s: key %s still answers %d (seed %d)", why, k.id, r.status, seed)
		inForceElsewhere(pt, other(s), changed, keyProbe(k), keyRefused, why+" (other server)")
	}
	// settled: s serves pt's current status (s made the last change, or the bound has passed).
	settled := func(pt *propTenant, s *api, sent time.Time) bool {
		return pt.via == nil || pt.via == s || sent.Sub(pt.changed) >= credentialBound
	}
	// deadInvites marks the pending invitations of inviter dead, and checks one is refused.
	deadInvites := func(pt *propTenant, inviter string, why string) {
		t.Helper()
		var dead []*propInvite
		for _, inv := range pt.invites {
			if inv.inviter == inviter && !inv.dead {
				inv.dead = true
				dead = append(dead, inv)
			}
		}
		if len(dead) == 0 {
			return
		}
		inv := dead[rng.IntN(len(dead))]
		s := servers[rng.IntN(len(servers))]
		r := s.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.token}, header: fresh()})
		check(r, why)
		require.Equal(t, http.StatusNotFound, r.status, "%s: invitation %s still works (seed %d): %s", why, inv.id, seed, r.raw)
		stats.deadRefused.Add(1)
	}
	// keepsAdminKey: the tenant would still hold a working admin key without member id's keys
	// (the model needs one to go on; the domain only keeps an admin member).
	keepsAdminKey := func(pt *propTenant, id string) bool {
		for _, k := range pt.liveKeys("admin") {
			if k.member != id {
				return true
			}
		}
		return false
	}
	// pickMember picks one of ids, half the time an inviter of a kept invitation (when there
	// is one), so that inviters are often removed or demoted while their invitations wait.
	pickMember := func(pt *propTenant, ids []string) string {
		var inviters []string
		for _, inv := range pt.invites {
			if _, ok := pt.members[inv.inviter]; ok && !inv.dead && pt.members[inv.inviter] == "admin" {
				inviters = append(inviters, inv.inviter)
			}
		}
		if len(inviters) > 0 && rng.IntN(2) == 0 {
			return inviters[rng.IntN(len(inviters))]
		}
		return ids[rng.IntN(len(ids))]
	}
	adminKey := func(pt *propTenant) *propKey {
		ks := pt.liveKeys("admin")
		if len(ks) == 0 {
			return nil
		}
		return ks[rng.IntN(len(ks))]
	}
	// record sends usage records of metric through s with key k; n records at hour when
	// large, else 1 to 3 at the present; the model counts what is accepted.
	record := func(pt *propTenant, s *api, k *propKey, metric string, large bool) {
		t.Helper()
		n, at := 1+rng.IntN(3), time.Now().UTC().Add(-time.Second)
		if large {
			n, at = 1+rng.IntN(1000), bigHour.Add(time.Duration(rng.IntN(3600))*time.Second)
		}
		recs := make([]map[string]any, n)
		qs := make([]int64, n)
		for i := range recs {
			qs[i] = pickQuantity(rng)
			if large && rng.IntN(2) == 0 {
				qs[i] = propertyMaxQuantity
			}
			recs[i] = map[string]any{"metric": metric, "quantity": qs[i], "occurred_at": at.Format(time.RFC3339Nano), "idempotency_key": uuid.NewString()}
		}
		var body any = recs[0]
		if n > 1 {
			body = map[string]any{"records": recs}
		}
		sent := time.Now()
		r := s.do(req{method: "POST", path: "/v1/usage", token: k.key, body: body})
		check(r, "usage")
		switch {
		case r.status == http.StatusAccepted && (pt.status == "active" || !settled(pt, s, sent)):
			noteSeq(pt, r)
			require.Equal(t, float64(n), r.get("accepted"), "every fresh key counts (seed %d): %s", seed, r.raw)
			for _, q := range qs {
				pt.addUsage(metric, at.Truncate(time.Hour), big.NewInt(q))
			}
		case r.status == http.StatusForbidden && (pt.status == "suspended" || !settled(pt, s, sent)):
		default:
			require.Failf(t, "usage", "tenant %s, answered %d through the %s server (seed %d): %s", pt.status, r.status,
				map[bool]string{true: "first", false: "second"}[s == a], seed, r.raw)
		}
	}

	const steps = 300
	for step := 0; step < steps; step++ {
		pt := open[rng.IntN(len(open))]
		admin := adminKey(pt)
		require.NotNil(t, admin, "every open tenant keeps an admin key")
		s := servers[rng.IntN(len(servers))]
		op := rng.IntN(100)
		if pt.status == "suspended" && op >= 33 && op < 86 {
			op = 86 // what a suspended tenant cannot do waits: reactivate it instead
		}
		if op >= 33 && !settled(pt, s, time.Now()) {
			// Within the bound after a status change, the other server may still serve the
			// old status (usage, above, checks either answer): commands go where it was made.
			s = pt.via
		}
		switch {
		case op < 25: // usage, one record or a few, from an admin or editor key
			writers := pt.liveKeys("admin", "editor")
			record(pt, s, writers[rng.IntN(len(writers))], []string{"api_calls", "storage_gb"}[rng.IntN(2)], false)
		case op < 33: // a large batch into one hour, mostly maximal records
			writers := pt.liveKeys("admin", "editor")
			record(pt, s, writers[rng.IntN(len(writers))], "api_calls", true)
			stats.largeBatches.Add(1)
		case op < 41: // a new key of a random role
			if pt.status != "active" {
				continue
			}
			role := roles[rng.IntN(len(roles))]
			r := s.do(req{method: "POST", path: "/v1/api-keys", token: admin.key, body: map[string]any{"name": "k" + strconv.Itoa(step), "role": role}})
			check(r, "create key")
			require.Equal(t, http.StatusCreated, r.status, string(r.raw))
			noteSeq(pt, r)
			key := r.str("api_key", "key")
			pt.keys = append(pt.keys, &propKey{key: key, id: r.str("api_key", "id"), member: admin.member, role: role})
			check(other(s).do(req{method: "GET", path: "/v1/tenant", token: key}), "new key")
		case op < 50: // revoke a key (never the last admin key)
			if pt.status != "active" {
				continue
			}
			live := pt.liveKeys()
			k := live[rng.IntN(len(live))]
			if k.role == "admin" && len(pt.liveKeys("admin")) == 1 {
				continue
			}
			by := admin
			if by == k {
				for _, o := range pt.liveKeys("admin") {
					if o != k {
						by = o
					}
				}
			}
			warm(other(s), k)
			r := s.do(req{method: "DELETE", path: "/v1/api-keys/" + k.id, token: by.key})
			changed := time.Now()
			check(r, "revoke key")
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			noteSeq(pt, r)
			k.revoked = true
			mustRefuse(pt, s, changed, k, "revoked key")
		case op < 57: // invite and accept a member of a random role
			if pt.status != "active" || len(pt.members) >= 10 {
				continue
			}
			role := roles[rng.IntN(len(roles))]
			inv := s.do(req{method: "POST", path: "/v1/members", token: admin.key, body: map[string]any{"email": fmt.Sprintf("m%d-%d@example.com", step, rng.IntN(1000)), "role": role}})
			check(inv, "invite")
			require.Equal(t, http.StatusCreated, inv.status, string(inv.raw))
			acc := other(s).do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.str("token")}})
			check(acc, "accept")
			require.Equal(t, http.StatusCreated, acc.status, string(acc.raw))
			noteSeq(pt, acc)
			member := acc.str("member", "id")
			pt.members[member] = role
			key := acc.str("api_key", "key")
			pt.keys = append(pt.keys, &propKey{key: key, id: keyID(t, key), member: member, role: role})
		case op < 65: // invite and keep the invitation pending
			if pt.status != "active" || len(pt.invites) >= 12 {
				continue
			}
			inviter := admin
			if len(pt.members) < 12 && rng.IntN(2) == 0 {
				// Half the time by an admin who joins for it: one who may well be removed or
				// demoted while the invitation waits.
				inv := s.do(req{method: "POST", path: "/v1/members", token: admin.key, body: map[string]any{"email": fmt.Sprintf("a%d@example.com", step), "role": "admin"}})
				check(inv, "invite an admin")
				require.Equal(t, http.StatusCreated, inv.status, string(inv.raw))
				acc := s.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.str("token")}})
				check(acc, "accept as an admin")
				require.Equal(t, http.StatusCreated, acc.status, string(acc.raw))
				noteSeq(pt, acc)
				member, key := acc.str("member", "id"), acc.str("api_key", "key")
				pt.members[member] = "admin"
				inviter = &propKey{key: key, id: keyID(t, key), member: member, role: "admin"}
				pt.keys = append(pt.keys, inviter)
			}
			role := roles[rng.IntN(len(roles))]
			email := fmt.Sprintf("p%d-%d@example.com", step, rng.IntN(1000))
			r := s.do(req{method: "POST", path: "/v1/members", token: inviter.key, body: map[string]any{"email": email, "role": role}})
			check(r, "invite (kept)")
			require.Equal(t, http.StatusCreated, r.status, string(r.raw))
			noteSeq(pt, r)
			pt.invites = append(pt.invites, &propInvite{id: r.str("invitation", "id"), token: r.str("token"), inviter: inviter.member, role: role, email: email})
		case op < 71: // accept a kept invitation: it works exactly while its inviter may grant it
			if pt.status != "active" || len(pt.invites) == 0 || len(pt.members) >= 16 {
				continue
			}
			i := rng.IntN(len(pt.invites))
			inv := pt.invites[i]
			pt.invites = append(pt.invites[:i], pt.invites[i+1:]...)
			r := s.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.token}, header: fresh()})
			check(r, "accept a kept invitation")
			if inv.dead {
				require.Equal(t, http.StatusNotFound, r.status, "invitation %s of a removed or demoted inviter (seed %d): %s", inv.id, seed, r.raw)
				stats.deadRefused.Add(1)
				continue
			}
			stats.keptAccepted.Add(1)
			require.Equal(t, http.StatusCreated, r.status, "invitation %s of %s, still an admin (seed %d): %s", inv.id, inv.inviter, seed, r.raw)
			noteSeq(pt, r)
			member := r.str("member", "id")
			pt.members[member] = inv.role
			key := r.str("api_key", "key")
			pt.keys = append(pt.keys, &propKey{key: key, id: keyID(t, key), member: member, role: inv.role})
			again := other(s).do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": inv.token}, header: fresh()})
			check(again, "accept twice")
			require.Equal(t, http.StatusNotFound, again.status, "an invitation is accepted once (seed %d): %s", seed, again.raw)
		case op < 79: // change a member's role
			if pt.status != "active" {
				continue
			}
			var ids []string
			for id := range pt.members {
				ids = append(ids, id)
			}
			slices.Sort(ids) // map order is not the seed's
			id := pickMember(pt, ids)
			role := roles[rng.IntN(len(roles))]
			if !keepsAdminKey(pt, id) {
				continue
			}
			for _, k := range pt.keys {
				if k.member == id && !k.revoked && k.role != role && role != "admin" {
					warm(other(s), k)
				}
			}
			r := s.do(req{method: "PATCH", path: "/v1/members/" + id, token: admin.key, body: map[string]any{"role": role}})
			changed := time.Now()
			check(r, "change role")
			if r.status != http.StatusOK {
				require.Equal(t, http.StatusConflict, r.status, "only refusing to lose the last admin: %s", r.raw)
				continue
			}
			noteSeq(pt, r)
			was := pt.members[id]
			pt.members[id] = role
			// The member's keys whose role the new role no longer covers stop at once.
			for _, k := range pt.keys {
				if k.member != id || k.revoked || k.role == role || role == "admin" {
					continue
				}
				mustRefuse(pt, s, changed, k, "key of a member whose role changed")
				k.revoked = true
			}
			if was == "admin" && role != "admin" {
				deadInvites(pt, id, "invitation of a demoted admin")
			}
		case op < 86: // remove a member (never the last admin)
			if pt.status != "active" {
				continue
			}
			var ids []string
			for id := range pt.members {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			id := pickMember(pt, ids)
			if !keepsAdminKey(pt, id) {
				continue
			}
			for _, k := range pt.keys {
				if k.member == id && !k.revoked {
					warm(other(s), k)
				}
			}
			r := s.do(req{method: "DELETE", path: "/v1/members/" + id, token: admin.key})
			changed := time.Now()
			check(r, "remove member")
			if r.status != http.StatusOK && r.status != http.StatusNoContent {
				require.Equal(t, http.StatusConflict, r.status, "only refusing to lose the last admin: %s", r.raw)
				continue
			}
			noteSeq(pt, r)
			delete(pt.members, id)
			for _, k := range pt.keys {
				if k.member == id && !k.revoked {
					mustRefuse(pt, s, changed, k, "key of a removed member")
					k.revoked = true
				}
			}
			deadInvites(pt, id, "invitation of a removed inviter")
		case op < 95: // the operator suspends or reactivates
			verb := "suspend"
			if pt.status == "suspended" {
				verb = "reactivate"
				pt.probing.Wait() // the suspension is in force everywhere before it is undone
			}
			var body any
			if verb == "suspend" {
				body = map[string]any{"note": "property"}
				warm(other(s), admin)
			}
			r := s.do(req{method: "POST", path: "/v1/admin/tenants/" + pt.fix.id + "/" + verb, token: operatorToken, body: body})
			changed := time.Now()
			check(r, verb)
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			noteSeq(pt, r)
			pt.via, pt.changed = s, changed
			if verb == "suspend" {
				pt.status = "suspended"
				w := s.do(req{method: "PATCH", path: "/v1/tenant", token: admin.key, body: map[string]any{"name": "nope"}})
				require.Equal(t, http.StatusForbidden, w.status, "a write right after suspension: %s", w.raw)
				probe := func() req {
					return req{method: "PATCH", path: "/v1/tenant", token: admin.key, body: map[string]any{"name": "Probe"}}
				}
				inForceElsewhere(pt, other(s), changed, probe, func(r response) bool {
					return r.status == http.StatusForbidden || r.status == http.StatusGone // closed meanwhile: refused too
				}, "suspension (other server)")
			} else {
				pt.status = "active"
				w := s.do(req{method: "PATCH", path: "/v1/tenant", token: admin.key, body: map[string]any{"name": "Back " + strconv.Itoa(step)}})
				require.Equal(t, http.StatusOK, w.status, "a write right after reactivation: %s", w.raw)
				noteSeq(pt, w)
			}
		default: // the operator closes the tenant (rarely; a new tenant takes its place)
			if rng.IntN(4) != 0 {
				continue
			}
			live := pt.liveKeys()
			for _, k := range live {
				warm(other(s), k)
			}
			r := s.do(req{method: "POST", path: "/v1/admin/tenants/" + pt.fix.id + "/close", token: operatorToken})
			changed := time.Now()
			check(r, "close")
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			noteSeq(pt, r)
			pt.status = "closed"
			nt := newTenant(s)
			open[slices.Index(open, pt)] = nt
			tenants = append(tenants, nt)
			for _, k := range live {
				w := s.do(req{method: "POST", path: "/v1/usage", token: k.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": uuid.NewString()}})
				require.Equal(t, http.StatusGone, w.status, "a write right after closure: %s", w.raw)
				probe := func() req {
					return req{method: "POST", path: "/v1/usage", token: k.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": uuid.NewString()}}
				}
				inForceElsewhere(pt, other(s), changed, probe, func(r response) bool { return r.status == http.StatusGone }, "closure (other server)")
			}
		}
	}
	probes.Wait()
	require.False(t, t.Failed(), "a change was not in force on the other server within the bound (seed %d)", seed)
	t.Logf("%d large batches; %d kept invitations accepted, %d refused after their inviter left or was demoted; "+
		"%d changes checked on the other server, %d of them served as before at first (within the bound)",
		stats.largeBatches.Load(), stats.keptAccepted.Load(), stats.deadRefused.Load(), stats.probes.Load(), stats.staleWithinBound.Load())
	time.Sleep(credentialBound) // whatever either server cached has expired

	// Every surviving key still works on both servers, every taken-away one on neither.
	for _, pt := range tenants {
		for _, k := range pt.keys {
			for _, s := range servers {
				r := s.do(req{method: "GET", path: "/v1/tenant", token: k.key, header: fresh()})
				check(r, "final")
				_, present := pt.members[k.member]
				switch {
				case pt.status == "closed":
					require.Contains(t, []int{http.StatusGone, http.StatusUnauthorized}, r.status)
				case k.revoked || !present:
					require.Equal(t, http.StatusUnauthorized, r.status, "key %s (seed %d)", k.id, seed)
				default:
					require.Equal(t, http.StatusOK, r.status, "key %s (seed %d): %s", k.id, seed, r.raw)
				}
			}
		}
	}

	// Read models caught up equal the accepted usage, hour by hour, and equal a rebuild from
	// the events.
	ctx := context.Background()
	pool := pgtest.Pool(t, rebuildURL(), 4)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	projector := &projections.Projector{Store: eventstore.New(pool), Registry: reg, Logger: a.deps.Logger}
	super, err := pgx.Connect(ctx, testDB.SuperURL)
	require.NoError(t, err)
	defer super.Close(ctx)
	for _, pt := range tenants {
		id := uuid.MustParse(pt.fix.id)
		require.Eventually(t, func() bool {
			head, projected, err := eventstore.New(pool).Progress(ctx, id)
			return err == nil && projected == head && head >= pt.seq
		}, time.Minute, 20*time.Millisecond, "tenant %s caught up", id)
		if pt.status != "closed" {
			requireUsage(t, servers[rng.IntN(len(servers))], adminKey(pt), pt, seed)
		}
		before := tenantSnapshot(t, super, id)
		require.NotEmpty(t, before)
		require.NoError(t, projector.Rebuild(ctx, id, nil))
		require.Equal(t, before, tenantSnapshot(t, super, id), "tenant %s: read models equal a rebuild (seed %d)", id, seed)
	}
}

// requireUsage requires GET /v1/usage (hourly, over the last day) to answer exactly the
// model's total per metric and hour: numbers up to 2^53-1, strings of digits beyond.
func requireUsage(t *testing.T, s *api, k *propKey, pt *propTenant, seed uint64) {
	t.Helper()
	to := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	r := s.do(req{method: "GET", path: "/v1/usage?granularity=hour&from=" + to.Add(-24*time.Hour).Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339), token: k.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	var body struct {
		Series []struct {
			Metric string `json:"metric"`
			Points []struct {
				Start    time.Time       `json:"start"`
				Quantity json.RawMessage `json:"quantity"`
			} `json:"points"`
		} `json:"series"`
	}
	require.NoError(t, json.Unmarshal(r.raw, &body))
	got := map[string]*big.Int{}
	for _, m := range body.Series {
		for _, p := range m.Points {
			q, err := strconv.Unquote(string(p.Quantity))
			str := err == nil
			if !str {
				q = string(p.Quantity)
			}
			v, ok := new(big.Int).SetString(q, 10)
			require.True(t, ok, "an integer: %s", p.Quantity)
			require.Equal(t, v.CmpAbs(big.NewInt(1<<53-1)) > 0, str,
				"%s at %s: a number up to 2^53-1, a string of digits beyond (seed %d): %s", m.Metric, p.Start, seed, p.Quantity)
			got[m.Metric+"@"+p.Start.UTC().Format(time.RFC3339)] = v
		}
	}
	want := map[string]string{}
	for k, v := range pt.hourly {
		want[k] = v.String()
	}
	have := map[string]string{}
	for k, v := range got {
		have[k] = v.String()
	}
	require.Equal(t, want, have, "hourly totals equal the accepted usage (seed %d)", seed)
}

// rebuildURL is the role the projector runs as.
func rebuildURL() string { return testDB.WorkerURL }

// tenantSnapshot is every row of every table in the tenant's schema, as text, in a stable order.
func tenantSnapshot(t *testing.T, conn *pgx.Conn, id uuid.UUID) map[string]string {
	t.Helper()
	ctx := context.Background()
	schema := "tenant_" + hexOf(id)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`, schema)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := map[string]string{}
	for _, table := range tables {
		var s *string
		require.NoError(t, conn.QueryRow(ctx, fmt.Sprintf(`SELECT string_agg(r::text, '|' ORDER BY r::text) FROM %s r`,
			pgx.Identifier{schema, table}.Sanitize())).Scan(&s))
		if s != nil {
			out[table] = *s
		}
	}
	return out
}

func hexOf(id uuid.UUID) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 32)
	for i, c := range id {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(b)
}
