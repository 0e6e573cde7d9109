package projections

import (
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

// A batch is cut at BatchBytes while its rows stream in, and the rows its LIMIT asked for
// past the cut still come through the connection (pgx reads and drops them when the rows
// close). For a tenant of large events every batch would so pull up to BatchSize of them:
// after a cut, the tenant's projection asks for fewer events (eventstore.PageLimit), and
// the group fast path leaves the tenant to projectTenant until it asks for BatchSize again.

// pageLimit is the LIMIT of projection name's next batch of the tenant.
func (p *Projector) pageLimit(tenant uuid.UUID, name string) eventstore.PageLimit {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.pages[retryKey{tenant, name}]; ok {
		return l
	}
	return eventstore.PageLimit{Max: p.batchSize()}
}

// sawPage records a batch of n events read with l's limit, and whether BatchBytes cut it.
func (p *Projector) sawPage(tenant uuid.UUID, name string, l eventstore.PageLimit, n int, cut bool) {
	l.Saw(n, cut)
	k := retryKey{tenant, name}
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.Full() {
		delete(p.pages, k)
		return
	}
	if p.pages == nil {
		p.pages = map[retryKey]eventstore.PageLimit{}
	}
	p.pages[k] = l
}

// smallPages reports whether the tenant's usage projection (the group fast path's) reads
// fewer than BatchSize events a batch: large events, for projectTenant rather than the group
// fast path. (The auth projection's limit is its own: a usage batch that carries the auth
// checkpoint leaves it as it is.)
func (p *Projector) smallPages(tenant uuid.UUID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pages[retryKey{tenant, ProjectionUsage}]
	return ok
}
