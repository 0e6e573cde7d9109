package httpapi

import (
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
type credCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedCred
}

// credTTL bounds how stale a cached credential or tenant status can be.
const credTTL = 2 * time.Second

// maxCachedCreds bounds the cache; when full it starts over.
const maxCachedCreds = 50_000

type cachedCred struct {
	tenant, keyID, member uuid.UUID
	role                  domain.Role
	status, plan          string
	expires               time.Time
}

func (c *credCache) get(sum [32]byte, now time.Time) (cachedCred, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sum]
	if !ok || now.After(e.expires) {
		return cachedCred{}, false
	}
	return e, true
}

func (c *credCache) put(sum [32]byte, e cachedCred) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedCreds {
		c.m = map[[32]byte]cachedCred{}
	}
	c.m[sum] = e
}

// forget drops every cached credential of a tenant.
func (c *credCache) forget(tenant uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.tenant == tenant {
			delete(c.m, k)
		}
	}
}
