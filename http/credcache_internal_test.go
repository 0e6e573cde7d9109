package httpapi

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestCredCache_RefreshesOnceWhenHalfOldAndNeverCachesAForgottenLookup(t *testing.T) {
	var c credCache
	sum := [32]byte{1}
	tenant := uuid.New()
	t0 := time.Now()
	c.put(sum, cachedCred{tenant: tenant, plan: "pro"}, t0, c.generation())

	e, ok, refresh := cachedGet(&c, sum, t0.Add(credTTL/4))
	require.True(t, ok)
	require.False(t, refresh, "young: no refresh")
	require.Equal(t, "pro", e.plan)

	_, ok, refresh = cachedGet(&c, sum, t0.Add(credTTL*3/4))
	require.True(t, ok, "still valid while it is refreshed")
	require.True(t, refresh, "half old: one caller refreshes")
	_, ok, refresh = cachedGet(&c, sum, t0.Add(credTTL*3/4))
	require.True(t, ok)
	require.False(t, refresh, "only one")
	c.refreshed(sum, true) // failed: kept until it expires, and tried again
	_, ok, refresh = cachedGet(&c, sum, t0.Add(credTTL*3/4))
	require.True(t, ok)
	require.True(t, refresh)
	c.refreshed(sum, true)
	_, ok, _ = cachedGet(&c, sum, t0.Add(credTTL+time.Millisecond))
	require.False(t, ok, "expired: never served")

	t1 := t0.Add(credTTL)
	c.put(sum, cachedCred{tenant: tenant, plan: "enterprise"}, t1, c.generation())
	_, _, refresh = cachedGet(&c, sum, t1.Add(credTTL*3/4))
	require.True(t, refresh)
	c.refreshed(sum, false) // the key is no longer valid
	_, ok, _ = cachedGet(&c, sum, t1.Add(credTTL*3/4))
	require.False(t, ok, "dropped at once")

	// A lookup that began before the tenant's entries were forgotten is not cached.
	gen := c.generation()
	c.forget(tenant)
	c.put(sum, cachedCred{tenant: tenant}, t1, gen)
	_, ok, _ = cachedGet(&c, sum, t1)
	require.False(t, ok)
	c.put(sum, cachedCred{tenant: tenant}, t1, c.generation())
	_, ok, _ = cachedGet(&c, sum, t1)
	require.True(t, ok)
}

// A secret found invalid is refused without a lookup for credTTL at most, and at once no
// more when its tenant's credentials change through this process; a lookup that began
// before such a change is not remembered.
func TestCredCache_RemembersAnInvalidSecretForTheTTLAtMost(t *testing.T) {
	var c credCache
	sum, tenant, t0 := [32]byte{2}, uuid.New(), time.Now()
	c.putBad(sum, tenant, t0, c.generation())
	require.Equal(t, credBad, cachedState(&c, sum, t0.Add(credTTL/2)))
	require.False(t, cachedState(&c, sum, t0.Add(credTTL+time.Millisecond)) == credBad, "a key that became valid works within the TTL")

	c.putBad(sum, tenant, t0, c.generation())
	c.forget(tenant) // a key was created through this process
	require.False(t, cachedState(&c, sum, t0) == credBad)

	gen := c.generation()
	c.forget(uuid.New())
	c.putBad(sum, tenant, t0, gen)
	require.False(t, cachedState(&c, sum, t0) == credBad, "a lookup begun before a change is not remembered")

	for i := 0; i < maxBadCreds+10; i++ {
		c.putBad([32]byte{byte(i), byte(i >> 8), byte(i >> 16), 3}, tenant, t0, c.generation())
	}
	require.Equal(t, maxBadCreds, c.bad.len(), "bounded")
}

// A key id found unknown refuses every secret under it without a lookup for credTTL at
// most, and at once no more when its tenant's credentials change through this process (a
// key created here); a lookup that began before such a change is not remembered. Other key
// ids, and the same key id of another tenant, are not affected.
func TestCredCache_RemembersAnUnknownKeyIDForTheTTLAtMost(t *testing.T) {
	var c credCache
	tenant, key, t0 := uuid.New(), uuid.New(), time.Now()
	require.False(t, c.isUnknownKey(tenant, key, t0))
	c.putUnknownKey(tenant, key, t0, c.generation())
	require.True(t, c.isUnknownKey(tenant, key, t0.Add(credTTL/2)))
	require.False(t, c.isUnknownKey(tenant, uuid.New(), t0), "another key id")
	require.False(t, c.isUnknownKey(uuid.New(), key, t0), "another tenant")
	require.False(t, c.isUnknownKey(tenant, key, t0.Add(credTTL+time.Millisecond)), "a key created since works within the TTL")

	c.putUnknownKey(tenant, key, t0, c.generation())
	c.forget(uuid.New())
	require.True(t, c.isUnknownKey(tenant, key, t0), "another tenant's change keeps it")
	c.forget(tenant) // a key was created through this process
	require.False(t, c.isUnknownKey(tenant, key, t0))

	gen := c.generation()
	c.forget(uuid.New())
	c.putUnknownKey(tenant, key, t0, gen)
	require.False(t, c.isUnknownKey(tenant, key, t0), "a lookup begun before a change is not remembered")

	for i := 0; i < maxUnknownKeys+10; i++ {
		c.putUnknownKey(tenant, uuid.New(), t0, c.generation())
	}
	require.Equal(t, maxUnknownKeys, c.unknown.len(), "bounded")
}

// cachedGet is lookup as the entry it answers, whether it is valid, and refresh.
func cachedGet(c *credCache, sum [32]byte, now time.Time) (cachedCred, bool, bool) {
	e, state, refresh := c.lookup(sum, now)
	return e, state == credValid, refresh
}

// cachedState is lookup's state.
func cachedState(c *credCache, sum [32]byte, now time.Time) credState {
	_, state, _ := c.lookup(sum, now)
	return state
}

// lookup answers what resolveKey asked one by one, in the same order: a secret found bad
// is bad whatever else is cached; a cached key whose key id was since found unknown is
// unknown (refused and counted), without a refresh; otherwise the cached entry.
func TestCredCache_LookupAnswersBadThenUnknownThenCached(t *testing.T) {
	var c credCache
	sum, tenant, key, t0 := [32]byte{4}, uuid.New(), uuid.New(), time.Now()
	require.Equal(t, credMiss, cachedState(&c, sum, t0))
	c.put(sum, cachedCred{tenant: tenant, keyID: key}, t0, c.generation())
	require.Equal(t, credValid, cachedState(&c, sum, t0))
	c.putUnknownKey(uuid.New(), key, t0, c.generation())
	c.putUnknownKey(tenant, uuid.New(), t0, c.generation())
	require.Equal(t, credValid, cachedState(&c, sum, t0), "another tenant's key id, another key id of the tenant")
	c.putUnknownKey(tenant, key, t0, c.generation())
	_, state, refresh := c.lookup(sum, t0.Add(credTTL*3/4))
	require.Equal(t, credUnknown, state)
	require.False(t, refresh, "nothing to refresh")
	c.putBad(sum, tenant, t0, c.generation())
	require.Equal(t, credBad, cachedState(&c, sum, t0))
	require.Equal(t, credMiss, cachedState(&c, sum, t0.Add(credTTL+time.Millisecond)), "all of it expires")
}
