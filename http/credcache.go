package httpapi

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// credCache remembers authenticated API keys briefly, so a busy client costs no database
// round trip per request and a flood of requests is refused by its rate limit without
// reaching the database. Entries are keyed by the SHA-256 of the presented secret. Changes
// made through this process (revoking a key, removing a member or changing a role,
// suspending or closing a tenant, changing its plan) drop the tenant's entries at once;
// changes made through another replica apply within credTTL.
//
// A busy key never waits for the database: once an entry is half its TTL old, one request
// refreshes it in the background while the others go on with it, and requests that find no
// valid entry share one lookup (see Server.authenticateKey). A lookup that began before the
// tenant's entries were dropped is never cached.
//
// Secrets found invalid are remembered too, for credTTL at most (badCreds), so that a
// client repeating a bogus key costs no database lookup; a key that becomes valid (created
// through another replica, or not yet projected when first tried) is refused for credTTL at
// most, the same bound as any other change, and at once when the change went through this
// process (forget).
//
// Key ids found unknown are remembered too (unknown), by tenant and key id, for credTTL at
// most: a lookup that finds no such key, or no read models for its tenant, refuses every
// other secret presented under that key id without a lookup, so a client inventing secrets
// for one key id costs one lookup per credTTL, not one per secret. A key id that exists is
// never remembered as unknown (a wrong secret for a real key is remembered by its hash
// only), and key ids are chosen by the server at random, so only a key that did not exist
// yet can be refused this way: one created through this process is accepted at once
// (forget), one created through another replica, or whose tenant's read models were not
// up to date, within credTTL.
type credCache struct {
	mu         sync.Mutex
	m          map[[32]byte]cachedCred
	refreshing map[[32]byte]bool
	bad        *lru[[32]byte, badCred]
	unknown    *lru[keyRef, badCred]
	gen        uint64 // counts forget calls
}

// keyRef names an API key: its tenant and key id, both read from the presented secret.
type keyRef struct{ tenant, key uuid.UUID }

// badCred is a secret found invalid: its tenant (so forget can drop it) and when that
// stops counting.
type badCred struct {
	tenant  uuid.UUID
	expires time.Time
}

// maxBadCreds bounds the cache of invalid secrets (about 150 bytes each), and
// maxUnknownKeys that of unknown key ids (as much).
const (
	maxBadCreds    = 50_000
	maxUnknownKeys = 50_000
)

// credTTL bounds how stale a cached credential or tenant status can be.
const credTTL = 2 * time.Second

// maxCachedCreds bounds the cache; when full it starts over.
const maxCachedCreds = 50_000

type cachedCred struct {
	tenant, keyID, member uuid.UUID
	role                  domain.Role
	status, plan, slug    string
	planVersion           int
	expires, refreshAt    time.Time
	// Formatted once per lookup rather than per request: the tenant id as logs carry it,
	// and the actor events and idempotency record ("key:<key id>").
	tenantID, actor string
}

// secretSum is the SHA-256 of a presented secret, the cache's key. Hashed from a buffer on
// the stack: []byte(secret) would allocate for anything longer than 32 bytes, and it runs
// for every authenticated request (a key is about 110 bytes; longer input, which is never
// a valid key, is hashed all the same).
func secretSum(secret string) [32]byte {
	var buf [256]byte
	if len(secret) <= len(buf) {
		return sha256.Sum256(append(buf[:0], secret...))
	}
	return sha256.Sum256([]byte(secret))
}

// credState is what the cache knows of a presented secret (see lookup).
type credState int

const (
	credMiss    credState = iota // nothing: parse the secret and look it up
	credBad                      // found invalid less than credTTL ago
	credUnknown                  // cached valid, but its key id was since found unknown (isUnknownKey)
	credValid                    // cached valid and unexpired
)

// lookup answers, under one lock, whether sum was found invalid less than credTTL ago;
// else its entry if it has not expired, unless the entry's key id was since found unknown.
// refresh is true for exactly one caller once the entry is half its TTL old, which should
// then refresh it (see put, refreshed). Every authenticated request asks, so a cached key
// costs one lock and no parsing of the secret.
func (c *credCache) lookup(sum [32]byte, now time.Time) (e cachedCred, state credState, refresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stillBad(c.bad, sum, now) {
		return cachedCred{}, credBad, false
	}
	e, ok := c.m[sum]
	if !ok || now.After(e.expires) {
		return cachedCred{}, credMiss, false
	}
	if stillBad(c.unknown, keyRef{e.tenant, e.keyID}, now) {
		return cachedCred{}, credUnknown, false
	}
	if now.After(e.refreshAt) && !c.refreshing[sum] {
		if c.refreshing == nil {
			c.refreshing = map[[32]byte]bool{}
		}
		c.refreshing[sum] = true
		refresh = true
	}
	return e, credValid, refresh
}

// generation is to be read before a lookup and passed to put.
func (c *credCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches e (looked up at now) unless the cache was told to forget since gen.
func (c *credCache) put(sum [32]byte, e cachedCred, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedCreds {
		c.m = map[[32]byte]cachedCred{}
	}
	e.expires, e.refreshAt = now.Add(credTTL), now.Add(credTTL/2)
	c.m[sum] = e
}

// refreshed ends a refresh that get asked for; valid false drops the entry (the key was
// revoked, say).
func (c *credCache) refreshed(sum [32]byte, valid bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.refreshing, sum)
	if !valid {
		delete(c.m, sum)
	}
}

// putBad remembers that sum (of tenant) was found invalid by a lookup begun at now, unless
// the cache was told to forget since gen (the key may have been created meanwhile).
func (c *credCache) putBad(sum [32]byte, tenant uuid.UUID, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		rememberBad(&c.bad, maxBadCreds, sum, tenant, now)
	}
}

// isUnknownKey reports whether tenant's key id was found not to exist less than credTTL
// ago.
func (c *credCache) isUnknownKey(tenant, keyID uuid.UUID, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return stillBad(c.unknown, keyRef{tenant, keyID}, now)
}

// putUnknownKey remembers that a lookup begun at now found no key keyID of tenant (or no
// read models of tenant), unless the cache was told to forget since gen.
func (c *credCache) putUnknownKey(tenant, keyID uuid.UUID, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		rememberBad(&c.unknown, maxUnknownKeys, keyRef{tenant, keyID}, tenant, now)
	}
}

// stillBad reports whether l (nil: empty) holds k unexpired at now; an expired entry is
// dropped. The caller holds the cache's lock.
func stillBad[K comparable](l *lru[K, badCred], k K, now time.Time) bool {
	if l == nil {
		return false
	}
	b, ok := l.get(k)
	if ok && now.After(b.expires) {
		l.remove(k)
		return false
	}
	return ok
}

// rememberBad puts k (of tenant) into *l for credTTL from now, making *l (of size entries)
// on first use. The caller holds the cache's lock.
func rememberBad[K comparable](l **lru[K, badCred], size int, k K, tenant uuid.UUID, now time.Time) {
	if *l == nil {
		*l = newLRU[K, badCred](size)
	}
	(*l).put(k, badCred{tenant: tenant, expires: now.Add(credTTL)})
}

// known reports, without side effects, whether sum is a valid cached credential.
func (c *credCache) known(sum [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sum]
	return ok && !now.After(e.expires)
}

// forget drops every cached credential of a tenant, valid or not, and its unknown key ids.
func (c *credCache) forget(tenant uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if e.tenant == tenant {
			delete(c.m, k)
		}
	}
	if c.bad != nil {
		c.bad.removeIf(func(_ [32]byte, b badCred) bool { return b.tenant == tenant })
	}
	if c.unknown != nil {
		c.unknown.removeIf(func(k keyRef, _ badCred) bool { return k.tenant == tenant })
	}
}
