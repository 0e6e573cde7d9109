package httpapi

import (
	"context"
	"runtime"
	"sync"

	"github.com/google/uuid"
)

// fairness bounds how many requests of one tenant are being worked on at once, so that a
// tenant that sends many requests together (a burst its rate limit still allows, or a
// flood's refused requests coming back) queues behind itself instead of taking the CPU
// from every other tenant: another tenant's request competes with at most slots of its
// requests, whatever their number. A request holds its tenant's slot while it is worked
// on, not while it waits for the database to commit its events (see call.yield), so one
// tenant's concurrent ingestion still shares group commits.
type fairness struct {
	slots int
	mu    sync.Mutex
	gates map[uuid.UUID]*gate
	// idle holds gates no request refers to any more, for the next tenant that has none:
	// a tenant with one request at a time would otherwise make and drop a gate per request.
	idle []*gate
}

// maxIdleGates bounds fairness.idle.
const maxIdleGates = 64

type gate struct {
	f      *fairness
	tenant uuid.UUID
	ch     chan struct{}
	refs   int // requests holding or waiting for a slot (under f.mu)
}

// newFairness gives each tenant as many slots as the process has CPUs (at least 2).
func newFairness() *fairness {
	return &fairness{slots: max(2, runtime.GOMAXPROCS(0)), gates: map[uuid.UUID]*gate{}}
}

// acquire waits for one of the tenant's slots; ok is false when ctx ends first. The slot is
// given back with the gate's release, exactly once (call.yield).
func (f *fairness) acquire(ctx context.Context, tenant uuid.UUID) (slot *gate, ok bool) {
	f.mu.Lock()
	g := f.gates[tenant]
	if g == nil {
		if n := len(f.idle); n > 0 {
			g, f.idle = f.idle[n-1], f.idle[:n-1]
			g.tenant = tenant
		} else {
			g = &gate{f: f, tenant: tenant, ch: make(chan struct{}, f.slots)}
		}
		f.gates[tenant] = g
	}
	g.refs++
	f.mu.Unlock()
	select {
	case g.ch <- struct{}{}:
		return g, true
	case <-ctx.Done():
		g.leave()
		return nil, false
	}
}

// release gives back a slot acquire gave.
func (g *gate) release() {
	<-g.ch
	g.leave()
}

// leave forgets the gate once no request holds or waits for it (its slots are all free
// then), keeping it for reuse while fewer than maxIdleGates are kept.
func (g *gate) leave() {
	f := g.f
	f.mu.Lock()
	if g.refs--; g.refs == 0 {
		delete(f.gates, g.tenant)
		if len(f.idle) < maxIdleGates {
			f.idle = append(f.idle, g)
		}
	}
	f.mu.Unlock()
}
