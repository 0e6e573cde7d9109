package app

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// coalescer turns concurrent single-record usage requests of one tenant and actor into one
// usage.batch_recorded event. It lives in the use case, not in a port, because it is a
// decision about how appends are batched: any port that records single records (HTTP
// today) gets it by calling RecordUsage.Record, and none can bypass it.
//
// A lane (tenant, actor) has at most one append in flight; the records that arrive
// meanwhile gather, and the next append takes them together. A lone request is appended at
// once, alone, as a usage.recorded event exactly as before: coalescing only ever happens
// while a client is sending faster than one commit a time.
//
// Nothing of a record's meaning changes: each record still claims its own key id, so a key
// counts once whichever event carries it; each request is answered only once its record is
// committed (or found to be a duplicate); an append that fails fails every request it
// carried, and none of them was written. Per-event costs (a row, its indexes, a chain link,
// a relayed message, a projection step) are paid once per append instead of once per
// request, which is what lets single-record ingestion keep up with many connections.
type coalescer struct {
	store      func(ctx context.Context, tenant uuid.UUID, meta domain.Metadata, quotas hardQuotas, records []usage.Recorded, ids []uuid.UUID, requests []string) (storedRecords, error)
	background func(tenant uuid.UUID) context.Context
	mu         sync.Mutex
	lanes      map[laneKey]*lane
}

type laneKey struct {
	tenant uuid.UUID
	actor  string
}

// lane is one (tenant, actor)'s gathering records, oldest batch first; its runner appends
// them one batch at a time and removes the lane when none is left.
type lane struct {
	queue []*gathered
}

// gathered is the records of one coming append, and its outcome once done is closed.
type gathered struct {
	records  []usage.Recorded
	ids      []uuid.UUID
	requests []string // each record's request id
	meta     domain.Metadata
	quotas   hardQuotas // the first request's plan version's (one tenant's lane)
	index    map[uuid.UUID]int
	waiting  int   // requests waiting for it (a duplicate within it is one more)
	total    int64 // the records' quantities added up (checked: see record)
	done     chan struct{}

	out storedRecords // per record, once done
	err error
}

// maxCoalesced bounds the records of one coalesced event (far below the event size limit).
const maxCoalesced = 256

// coalesceTimeout bounds one coalesced append: no single request's context governs it.
const coalesceTimeout = 30 * time.Second

// record appends r (key id id) with the others gathered in its lane and reports whether it
// was accepted (false: its key was claimed before, or by a request in the same append) and
// the seq of the event that holds it (for a duplicate, the event that recorded it first).
func (co *coalescer) record(ctx context.Context, tenant uuid.UUID, meta domain.Metadata, quotas hardQuotas, r usage.Recorded, id uuid.UUID) (accepted bool, seq int64, err error) {
	k := laneKey{tenant, meta.Actor}
	co.mu.Lock()
	l := co.lanes[k]
	start := l == nil
	if start {
		l = &lane{}
		co.lanes[k] = l
	}
	var g *gathered
	if n := len(l.queue); n > 0 && len(l.queue[n-1].records) < maxCoalesced {
		g = l.queue[n-1]
	}
	if g != nil {
		// The coalesced event's records are summed by the projector: a record that would
		// take the event's total beyond an int64 starts the next one instead (with
		// usage.MaxQuantity and maxCoalesced it cannot happen; the check keeps it so).
		if _, fits := usage.AddQuantities(g.total, r.Quantity.Int64()); !fits {
			g = nil
		}
	}
	if g == nil {
		g = &gathered{index: map[uuid.UUID]int{}, done: make(chan struct{}), meta: meta, quotas: quotas}
		l.queue = append(l.queue, g)
	}
	g.waiting++
	i, dup := g.index[id]
	if !dup {
		i = len(g.records)
		g.index[id] = i
		g.records = append(g.records, r)
		g.total += r.Quantity.Int64()
		g.ids = append(g.ids, id)
		g.requests = append(g.requests, meta.RequestID)
	}
	co.mu.Unlock()
	if start {
		go co.run(k, l)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		// The record may still be appended: a retry with the same key is then a duplicate.
		return false, 0, ctx.Err()
	}
	if g.err != nil {
		return false, 0, g.err
	}
	if g.out.refused[i] != nil { // a duplicate within the append shares its record's refusal
		return false, 0, g.out.refused[i]
	}
	return !dup && g.out.accepted[i], g.out.seqs[i], nil
}

// run appends the lane's gathered records, a batch at a time, until none are left.
func (co *coalescer) run(k laneKey, l *lane) {
	for {
		co.mu.Lock()
		if len(l.queue) == 0 {
			delete(co.lanes, k)
			co.mu.Unlock()
			return
		}
		g := l.queue[0]
		l.queue = l.queue[1:]
		co.mu.Unlock()
		co.append(k.tenant, g)
		close(g.done)
	}
}

// append stores g's records in one event, leaving out keys claimed already.
func (co *coalescer) append(tenant uuid.UUID, g *gathered) {
	ctx, cancel := context.WithTimeout(co.background(tenant), coalesceTimeout)
	defer cancel()
	g.out, g.err = co.store(ctx, tenant, g.meta, g.quotas, g.records, g.ids, g.requests)
}

// Waiting is how many requests of the tenant wait in its lanes for an append (a duplicate
// within one counts too): how tests and metrics see that coalescing happens.
func (u *RecordUsage) Waiting(tenant uuid.UUID) int {
	co := u.lanes
	co.mu.Lock()
	defer co.mu.Unlock()
	n := 0
	for k, l := range co.lanes {
		if k.tenant == tenant {
			for _, g := range l.queue {
				n += g.waiting
			}
		}
	}
	return n
}
