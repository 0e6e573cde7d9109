package eventstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// GroupCommitter coalesces concurrent appends into one transaction each time a committer is
// free: one round trip and one commit for many appends, whatever their tenants. Callers see
// no difference: each append is still all or nothing, because a group that fails anywhere is
// rolled back whole and its appends are run again one by one, each in its own transaction.
//
// Ordering stays as the cursor needs it: a group takes the locks of all its tenants first,
// in a fixed order and before its transaction has an id, exactly as a single append does.
type GroupCommitter struct {
	store      *Store
	committers int
	maxGroup   int
	reqs       chan *appendReq
	done       chan struct{}
	grouped    atomic.Int64 // transactions that carried more than one append
	replayed   atomic.Int64 // groups rolled back and replayed one append at a time
}

// Stats says how many transactions carried several appends, and how many such groups
// failed and were replayed one by one.
func (g *GroupCommitter) Stats() (grouped, replayed int64) {
	return g.grouped.Load(), g.replayed.Load()
}

type appendReq struct {
	ctx    context.Context
	params *appendParams
	reply  chan appendReply
}

// n is how many events the append writes.
func (r *appendReq) n() int { return len(r.params.IDs) }

type appendReply struct {
	res AppendResult
	err error
}

// newGroupCommitter returns a committer for s with committers (> 0) concurrent
// transactions; NewStore makes it (StoreConfig.GroupCommitters), its owner runs it.
func newGroupCommitter(s *Store, committers int) *GroupCommitter {
	return &GroupCommitter{store: s, committers: committers, maxGroup: 64,
		reqs: make(chan *appendReq), done: make(chan struct{})}
}

// Run commits groups until ctx ends; appends then go straight to the database again.
//
// A dispatcher forms the groups. A tenant's appends are serialised by its lock anyway, so a
// tenant that is in a group being committed is left out of new groups until that commit
// ends: its next appends wait and go together in one later group, instead of several
// committers queueing on one tenant's lock while other tenants' appends wait behind them.
func (g *GroupCommitter) Run(ctx context.Context) error {
	work := make(chan []*appendReq)
	finished := make(chan []*appendReq)
	var wg sync.WaitGroup
	for i := 0; i < g.committers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for group := range work {
				g.commit(ctx, group)
				finished <- group
			}
		}()
	}
	var pending []*appendReq
	busy := map[uuid.UUID]bool{}
	idle := g.committers
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case r := <-g.reqs:
			pending = append(pending, r)
		case group := <-finished:
			idle++
			for _, r := range group {
				delete(busy, r.params.Tenant)
			}
		}
	drain:
		for {
			select {
			case r := <-g.reqs:
				pending = append(pending, r)
			default:
				break drain
			}
		}
		for idle > 0 && len(pending) > 0 {
			group, rest := g.take(pending, busy)
			if len(group) == 0 {
				break
			}
			pending = rest
			for _, r := range group {
				busy[r.params.Tenant] = true
			}
			idle--
			work <- group
		}
	}
	close(g.done)
	// Collect the committers (answering what they finish) and anything still queued.
	go func() {
		for range finished {
		}
	}()
	close(work)
	wg.Wait()
	close(finished)
	for {
		select {
		case r := <-g.reqs:
			pending = append(pending, r)
			continue
		default:
		}
		break
	}
	for _, r := range pending {
		g.alone(r)
	}
	return nil
}

// take picks the next group from pending, in arrival order, skipping tenants whose
// appends are being committed, and returns it with what remains.
func (g *GroupCommitter) take(pending []*appendReq, busy map[uuid.UUID]bool) (group, rest []*appendReq) {
	rest = pending[:0] // filtered in place: rest never overtakes the reading
	for _, r := range pending {
		if len(group) < g.maxGroup && !busy[r.params.Tenant] {
			group = append(group, r)
		} else {
			rest = append(rest, r)
		}
	}
	return group, rest
}

// submit hands an append to a committer; ok is false when none is running.
func (g *GroupCommitter) submit(r *appendReq) (appendReply, bool) {
	select {
	case g.reqs <- r:
	case <-g.done:
		return appendReply{}, false
	case <-r.ctx.Done():
		return appendReply{err: r.ctx.Err()}, true
	}
	return <-r.reply, true
}

// alone runs one append in its own transaction and answers it.
func (g *GroupCommitter) alone(r *appendReq) {
	res, err := g.store.send(r.ctx, appendSQL, r.params.args(), r.n(), scanAppended)
	r.reply <- appendReply{res, err}
}

func (g *GroupCommitter) commit(ctx context.Context, group []*appendReq) {
	if len(group) == 1 {
		g.alone(group[0])
		return
	}
	calls := mergeCalls(group)
	results := make([]AppendResult, len(group))
	var err error
	if len(calls) == 1 {
		// One tenant's appends to one stream, merged (a hot tenant): append_events does one
		// call in fewer statements than the group function.
		c := calls[0]
		var res AppendResult
		if res, err = g.store.send(ctx, appendSQL, c.params.args(), c.n, scanAppended); err == nil {
			c.split(res, results)
		}
	} else {
		// One statement, its own (implicit) transaction: either every append in it commits
		// or none does.
		var rows pgx.Rows
		if rows, err = g.store.pool.Query(ctx, groupAppendSQL, newGroupParams(calls).args()...); err == nil {
			err = readGroup(rows, calls, results)
		}
	}
	if err == nil {
		g.grouped.Add(1)
		for i, r := range group {
			r.reply <- appendReply{res: results[i]}
		}
		return
	}
	g.replayed.Add(1)
	// Something in the group failed (a stale expected version, a retry, a lost connection):
	// nothing was written; run each append alone so each gets its own outcome.
	for _, r := range group {
		g.alone(r)
	}
}

// call is one call of a group (a row of append_events_group's per-call arrays): one
// append, or several appends to the same stream that expect Any version, merged into one.
// A group that merges into a single call (a hot tenant) runs as one append_events call.
type call struct {
	params  appendParams
	n       int
	members []int // indexes into the group, in event order
	sizes   []int
}

// streamKey names one stream of one tenant.
type streamKey struct {
	tenant uuid.UUID
	stream string
}

// mergeCalls plans a group's statements. Appends with an expected version stay alone
// (each checks its own expectation); Any appends to one stream of one tenant are merged,
// which is what concurrent usage recording looks like.
func mergeCalls(group []*appendReq) []*call {
	var calls []*call
	open := map[streamKey]*call{}
	for i, r := range group {
		p, n := r.params, r.n()
		key := streamKey{p.Tenant, p.Stream}
		if c := open[key]; c != nil && p.Expected == Any && c.n+n <= MaxEventsPerAppend {
			// Appending leaves the first caller's own slices as they were (their length does
			// not change), which a failed group's one-by-one replay relies on.
			m := &c.params
			m.IDs = append(m.IDs, p.IDs...)
			m.Types = append(m.Types, p.Types...)
			m.Versions = append(m.Versions, p.Versions...)
			m.Data = append(m.Data, p.Data...)
			m.Meta = append(m.Meta, p.Meta...)
			// Keys name their event by index in the statement: shift the member's by the
			// events before it.
			m.Keys = append(m.Keys, p.Keys...)
			for _, ev := range p.KeyEvents {
				m.KeyEvents = append(m.KeyEvents, ev+int32(c.n))
			}
			m.Usage.merge(&p.Usage, int32(c.n))
			c.n += n
			c.members = append(c.members, i)
			c.sizes = append(c.sizes, n)
			continue
		}
		c := &call{params: *p, n: n, members: []int{i}, sizes: []int{n}}
		if p.Expected == Any {
			open[key] = c
		}
		calls = append(calls, c)
	}
	return calls
}

// groupParams is groupAppendSQL's parameters: one entry per call in the per-call arrays,
// every call's events one after the other in the event and key arrays.
type groupParams struct {
	tenants, streams    []string
	expected            []int64
	lo, hi, klo, khi    []int32
	ids, keys           []uuid.UUID
	types, data, meta   []string
	versions, keyEvents []int32
	usage               usageParams
}

func newGroupParams(calls []*call) *groupParams {
	g := &groupParams{}
	for _, c := range calls {
		p := &c.params
		g.tenants = append(g.tenants, p.Tenant.String())
		g.streams = append(g.streams, p.Stream)
		g.expected = append(g.expected, int64(p.Expected))
		g.lo = append(g.lo, int32(len(g.ids)+1))
		g.ids = append(g.ids, p.IDs...)
		g.hi = append(g.hi, int32(len(g.ids)))
		g.types = append(g.types, p.Types...)
		g.versions = append(g.versions, p.Versions...)
		g.data = append(g.data, p.Data...)
		g.meta = append(g.meta, p.Meta...)
		g.klo = append(g.klo, int32(len(g.keys)+1)) // a call without keys gets [k+1:k], empty
		g.keys = append(g.keys, p.Keys...)
		g.khi = append(g.khi, int32(len(g.keys)))
		g.keyEvents = append(g.keyEvents, p.KeyEvents...)
		g.usage.merge(&p.Usage, g.lo[len(g.lo)-1]-1) // usage rows name their event in the group's arrays
	}
	return g
}

// args are groupAppendSQL's placeholder values.
func (g *groupParams) args() []any {
	return append([]any{g.tenants, g.streams, g.expected, g.lo, g.hi, g.klo, g.khi,
		g.ids, g.types, g.versions, g.data, g.meta, g.keys, g.keyEvents}, g.usage.args()...)
}

// readGroup reads groupAppendSQL's rows into each member append's result. Rows are led by
// their tenant; a tenant's calls took consecutive seqs in call order, so the tenant's rows
// in seq order are its calls' events, one call after the other.
func readGroup(rows pgx.Rows, calls []*call, results []AppendResult) error {
	defer rows.Close()
	byTenant := map[uuid.UUID][]Appended{}
	for rows.Next() {
		var t uuid.UUID
		var a Appended
		var hash []byte
		if err := rows.Scan(&t, &a.Seq, &a.StreamVersion, &a.ID, &a.Position, &a.RecordedAt, &hash); err != nil {
			return err
		}
		copy(a.Hash[:], hash)
		byTenant[t] = append(byTenant[t], a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, evs := range byTenant {
		slices.SortFunc(evs, func(a, b Appended) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	for _, c := range calls {
		evs := byTenant[c.params.Tenant]
		if len(evs) < c.n {
			return fmt.Errorf("group append returned %d events of tenant %s, want at least %d", len(evs), c.params.Tenant, c.n)
		}
		for k, id := range c.params.IDs {
			if evs[k].ID != id {
				return fmt.Errorf("group append returned event %s where tenant %s's call expects %s", evs[k].ID, c.params.Tenant, id)
			}
		}
		res, err := appendResult(evs[:c.n:c.n], c.n)
		if err != nil {
			return err
		}
		byTenant[c.params.Tenant] = evs[c.n:]
		c.split(res, results)
	}
	for t, evs := range byTenant {
		if len(evs) > 0 {
			return fmt.Errorf("group append returned %d events of tenant %s beyond its calls", len(evs), t)
		}
	}
	return nil
}

// split hands each merged append its own part of the statement's result.
func (c *call) split(res AppendResult, results []AppendResult) {
	at := 0
	for k, i := range c.members {
		evs := res.Events[at : at+c.sizes[k]]
		at += c.sizes[k]
		results[i] = AppendResult{Events: evs, FirstSeq: evs[0].Seq, LastSeq: evs[len(evs)-1].Seq,
			StreamVersion: evs[len(evs)-1].StreamVersion}
	}
}
