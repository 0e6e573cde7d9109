package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// Projector keeps every tenant's read models up to date. The read models are split into
// independent projections (see Projections), each with its own checkpoint per tenant: each
// batch of one tenant and projection (at most BatchSize events and BatchBytes of their
// documents) is one transaction with the tenant context and
// search_path set, and it moves that projection's checkpoint in the same transaction, so an
// event's effects happen exactly once whatever crashes. Tenants take turns one batch at a
// time, so a tenant with a huge backlog delays another tenant's fresh event by at most one
// batch per worker.
//
// An event that a projection cannot apply (a deterministic error) stops that projection for
// that tenant only, never the others: the event is isolated (its seq and error stored,
// listed by Failures), counted and logged once. A transient error (a lost connection, a
// serialization failure; see eventstore.IsTransient) is retried with a capped, jittered
// exponential backoff per tenant and projection, without holding a worker; one that has not
// cleared after GiveUpAttempts attempts over GiveUpAfter stops the projection the same way,
// at its first unapplied event, so that an operator sees it.
//
// Product modules (Modules) add projections of their own, run the same way: each module
// projection has its own checkpoint, lock, failure and retries per tenant, so a module's
// trouble never holds back Tenantry's read models or another module's.
type Projector struct {
	Store        *eventstore.Store // on a pool of the worker role
	Registry     *eventstore.Registry
	Logger       *slog.Logger
	Workers      int           // default 4
	BatchSize    int           // default 500
	PollInterval time.Duration // how often the backlog is rescanned (default 5s)

	// GiveUpAttempts and GiveUpAfter bound the retries of a transient error: once a
	// projection of a tenant has failed this many times in a row (default 10), over at
	// least this long (default 2 minutes), the error is recorded as the projection's failure
	// (stopped, listed, counted, logged once) instead of being retried without end.
	GiveUpAttempts int
	GiveUpAfter    time.Duration

	// BatchBytes bounds the documents (data and metadata) one batch reads, default
	// eventstore.MaxBatchBytes: a usage batch event holds up to about 1 MiB, so BatchSize of
	// them would make a worker hold hundreds of MiB. A batch holds at least one event; a
	// group transaction shares one bound among its tenants (see eventstore.BatchBudget).
	BatchBytes int

	// Observe, when set, is told of every batch applied (before its commit; a batch whose
	// commit fails is applied again): the tenant, its size, and the newest recorded_at.
	Observe func(tenant uuid.UUID, events int, newest time.Time)

	// Modules are the product modules whose projections run beside Tenantry's (their event
	// types registered in Registry; see module.Register). Set at construction: they are read
	// once, and Run refuses a set that module.Check refuses.
	Modules []module.Module

	// Webhooks runs Tenantry's webhooks projection (ProjectionWebhooks): each event of a
	// tenant queues one delivery per matching webhook endpoint, exactly once, with its own
	// checkpoint, so a failure there never stops authorisation or usage.
	Webhooks bool

	afterBatch func(tenant uuid.UUID)                               // test hook: called after each tenant's turn (its projections' batches)
	onAttempt  func(tenant uuid.UUID, projection string, err error) // test hook: every batch attempt and its outcome

	mu    sync.Mutex
	queue []uuid.UUID
	state map[uuid.UUID]int // queued, running, or running+dirty
	wake  chan struct{}
	retry map[retryKey]*retryState
	pages map[retryKey]eventstore.PageLimit // the LIMIT of batches after cuts at BatchBytes (see pages.go)

	catOnce sync.Once
	cat     *projectionSet // every projection, Modules' included (see modules.go)
}

// Projection names (eventstore.ProjectionAuth, eventstore.ProjectionUsage): each has its own
// checkpoint per tenant.
const (
	ProjectionAuth  = eventstore.ProjectionAuth
	ProjectionUsage = eventstore.ProjectionUsage
)

// Projections lists the projections, in the order the projector runs them for a tenant:
// usage first, because its batches carry the auth checkpoint over usage events (see
// projectBatch), which spares the auth projection a transaction per usage batch.
var Projections = eventstore.Projections

const (
	queued = iota + 1
	running
	runningDirty
)

// Poisoned counts events that stopped a projection of a tenant since start.
func (p *Projector) Poisoned() int64 {
	var n int64
	for _, c := range p.catalog().poisons {
		n += c.Load()
	}
	return n
}

// PoisonedIn counts events that stopped projection name of a tenant since start (the
// tenantry_projection_failures_total counter); name is one of Names.
func (p *Projector) PoisonedIn(name string) int64 {
	if c := p.catalog().poisons[name]; c != nil {
		return c.Load()
	}
	return 0
}

// poisoned counts an event that stopped projection name of a tenant.
func (p *Projector) poisoned(name string) {
	if c := p.catalog().poisons[name]; c != nil {
		c.Add(1)
	}
}

// Notify says a tenant has new events. It never blocks.
func (p *Projector) Notify(tenant uuid.UUID) {
	if tenant == plans.Partition {
		return // the deployment's own partition (the plan catalog) has no read models
	}
	p.mu.Lock()
	p.init()
	switch p.state[tenant] {
	case 0:
		p.state[tenant] = queued
		p.queue = append(p.queue, tenant)
	case running:
		p.state[tenant] = runningDirty
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// orDefault is v, or def when v is unset: the projector's settings keep the values it was
// given (zero meaning the default) and are never written while it runs.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (p *Projector) init() {
	if p.state == nil {
		p.state = map[uuid.UUID]int{}
		p.wake = make(chan struct{}, 1)
		p.retry = map[retryKey]*retryState{}
	}
}

// Consume marks the tenants of relayed messages for projection and acknowledges them; the
// events themselves are read from the store in seq order.
func (p *Projector) Consume(ctx context.Context, msgs <-chan *message.Message) {
	eventstore.NoteTenants(ctx, msgs, func(string) bool { return true }, p.Notify)
}

// Run projects until ctx ends. It refuses Modules that module.Check refuses.
func (p *Projector) Run(ctx context.Context) error {
	if err := p.catalog().err; err != nil {
		return err
	}
	p.mu.Lock()
	p.init()
	p.mu.Unlock()
	var wg sync.WaitGroup
	for w := 0; w < orDefault(p.Workers, 4); w++ {
		wg.Add(1)
		go func() { defer wg.Done(); p.work(ctx) }()
	}
	for {
		if err := p.scanBacklog(ctx); err != nil && ctx.Err() == nil {
			p.Logger.Warn("backlog scan failed", "err", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-time.After(orDefault(p.PollInterval, 5*time.Second)):
		}
	}
}

// scanBacklog queues every tenant whose stream is ahead of a projection that is not
// stopped: after a restart, and to catch any notification that was lost.
func (p *Projector) scanBacklog(ctx context.Context) error {
	ids, err := p.Store.ProjectionBacklog(ctx, 100000, p.catalog().names...)
	if err != nil {
		return err
	}
	// Each replica takes the backlog in its own order, so replicas that scan together
	// spread over different tenants instead of queueing on the same tenants' locks.
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		p.Notify(id)
	}
	return nil
}

// nextGroup takes up to max tenants from the head of the queue, waiting for one.
func (p *Projector) nextGroup(ctx context.Context, max int) ([]uuid.UUID, bool) {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			n := min(max, len(p.queue))
			ids := append([]uuid.UUID(nil), p.queue[:n]...)
			p.queue = p.queue[n:]
			for _, id := range ids {
				p.state[id] = running
			}
			p.mu.Unlock()
			return ids, true
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-p.wake:
		}
	}
}

// done puts a tenant back at the end of the queue when it has more to do.
func (p *Projector) done(id uuid.UUID, more bool) {
	p.mu.Lock()
	if more || p.state[id] == runningDirty {
		p.state[id] = queued
		p.queue = append(p.queue, id)
	} else {
		delete(p.state, id)
	}
	p.mu.Unlock()
	if more {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// maxGroup bounds how many tenants one transaction projects on the fast path.
const maxGroup = 16

func (p *Projector) work(ctx context.Context) {
	for {
		ids, ok := p.nextGroup(ctx, maxGroup)
		if !ok {
			return
		}
		more := make(map[uuid.UUID]bool, len(ids))
		var group, alone []uuid.UUID
		for _, id := range ids {
			if p.backingOff(id) || p.smallPages(id) {
				alone = append(alone, id) // projectTenant passes over what is backing off
			} else {
				group = append(group, id)
			}
		}
		if len(group) > 1 {
			carried := map[uuid.UUID][]string{}
			rest, err := p.projectGroup(ctx, group, more, carried)
			if err != nil {
				rest = group // nothing was written: each on its own
			}
			alone = append(alone, rest...)
			// The fast path runs Tenantry's projections and moves the others' checkpoints
			// over the events they pass over: the tenants it took still get a batch of each
			// module projection it could not carry.
			for _, id := range group {
				if !slices.Contains(rest, id) && p.projectModules(ctx, id, carried[id]) {
					more[id] = true
				}
			}
		} else {
			alone = append(alone, group...)
		}
		for _, id := range alone {
			more[id] = p.projectTenant(ctx, id)
		}
		for _, id := range ids {
			p.done(id, more[id] && ctx.Err() == nil)
		}
	}
}

// projectGroup is the usage projection's fast path for many tenants with a few new usage
// events each (the steady state under load): one transaction, one round trip to lock and
// read them all, one to write them all, one commit. Only tenants whose new events are all
// usage records, whose auth checkpoint it can carry along (see projectBatch) or that is
// stopped, take it; it returns the others (new tenants, other event types, unreadable
// events, sums that do not fit) to be projected one by one. It touches no checkpoint but
// the usage one, the auth one only to move it over usage events, and the other
// projections' (webhooks, modules') only to move them over usage events they pass over
// (listed in carried, so that they need no transaction of their own for them). The
// transaction takes no id until the final writes.
func (p *Projector) projectGroup(ctx context.Context, ids []uuid.UUID, more map[uuid.UUID]bool, carried map[uuid.UUID][]string) (alone []uuid.UUID, err error) {
	sorted := append([]uuid.UUID(nil), ids...) // one lock order for every process
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i][:], sorted[j][:]) < 0 })
	limit := p.batchSize()
	var done []uuid.UUID
	cat := p.catalog()
	also := append([]string{ProjectionAuth}, cat.carriable()...)
	spec := eventstore.GroupSpec{Own: ProjectionUsage, Also: also, Webhooks: slices.Contains(also, ProjectionWebhooks),
		Limit: limit, MaxBytes: p.BatchBytes}
	err = p.Store.ProjectGroup(ctx, sorted, spec, func(claims []eventstore.GroupClaim) ([]eventstore.GroupWrite, error) {
		alone, done = nil, nil // decide runs once per transaction attempt
		clear(carried)
		var writes []eventstore.GroupWrite
		for i := range claims {
			w := &claims[i]
			own, auth := w.Own, w.Also[0]
			switch {
			case own.Failed:
				alone = append(alone, w.Tenant) // stopped; the auth projection goes on, on its own
				continue
			case own.Seq == 0:
				alone = append(alone, w.Tenant) // needs provisioning
				continue
			case len(w.Events) == 0 && w.Cut:
				alone = append(alone, w.Tenant) // the group's byte bound was spent before its events
				continue
			case len(w.Events) == 0:
				done = append(done, w.Tenant)
				continue
			}
			carryAuth := !auth.Failed
			if carryAuth && (!auth.Locked || auth.Seq < own.Seq) {
				alone = append(alone, w.Tenant) // the auth projection must catch up on its own
				continue
			}
			var sums usageSums
			simple := true
			for i := range w.Events {
				e := &w.Events[i]
				pl, err := p.Registry.DecodeEvent(e)
				de, isDomain := pl, pl != nil
				recs, isUsage := usage.Records(de)
				if err != nil || !isDomain || !isUsage || e.Seq != own.Seq+int64(i)+1 {
					simple = false
					break
				}
				if fits, _ := sums.addEvent(recs, e.Seq); !fits {
					simple = false
					break
				}
			}
			if !simple {
				alone = append(alone, w.Tenant)
				continue
			}
			last := w.Events[len(w.Events)-1].Seq
			g := eventstore.GroupWrite{Tenant: w.Tenant, Checkpoints: []eventstore.ProjectionSeq{{Projection: ProjectionUsage, Seq: last}}}
			g.Hourly, g.Daily = sums.totals()
			if carryAuth && last > auth.Seq {
				g.Checkpoints = append(g.Checkpoints, eventstore.ProjectionSeq{Projection: ProjectionAuth, Seq: last})
			}
			for j, name := range also[1:] {
				c := w.Also[j+1]
				// Usage records only: a projection at the usage checkpoint (or past it) that
				// passes over every one of them moves with it.
				if !c.Locked || c.Failed || c.Seq < own.Seq || !cat.passesOverUsage(name, w.WebhooksWanted) {
					continue
				}
				if last > c.Seq {
					g.Checkpoints = append(g.Checkpoints, eventstore.ProjectionSeq{Projection: name, Seq: last})
				}
				carried[w.Tenant] = append(carried[w.Tenant], name)
			}
			writes = append(writes, g)
			more[w.Tenant] = len(w.Events) == limit || w.Cut
			if w.Cut {
				p.sawPage(w.Tenant, ProjectionUsage, eventstore.PageLimit{Max: limit}, len(w.Events), true)
			}
			done = append(done, w.Tenant)
		}
		return writes, nil
	})
	if err != nil {
		return nil, err
	}
	if p.afterBatch != nil {
		for _, id := range done {
			p.afterBatch(id)
		}
	}
	return alone, nil
}

// projectTenant runs one batch of each projection of the tenant that is not backing off
// after a transient error, and reports whether any has more to do. A transient error
// schedules the projection's retry (see retryLater); a deterministic one has stopped it.
func (p *Projector) projectTenant(ctx context.Context, tenant uuid.UUID) (more bool) {
	if p.afterBatch != nil {
		defer p.afterBatch(tenant)
	}
	authDone := false
	for _, name := range p.catalog().names {
		if name == ProjectionAuth && authDone {
			continue
		}
		m, carried := p.projectRetrying(ctx, tenant, name)
		more = more || m
		authDone = carried
	}
	return more
}

// projectModules runs one batch of each module projection of the tenant that is not
// backing off, as projectTenant does, and reports whether any has more to do: for the
// tenants the group fast path took, but for the projections it carried (skip).
func (p *Projector) projectModules(ctx context.Context, tenant uuid.UUID, skip []string) (more bool) {
	for _, m := range p.catalog().modules {
		if ctx.Err() != nil {
			return more
		}
		if slices.Contains(skip, m.name) {
			continue
		}
		if m, _ := p.projectRetrying(ctx, tenant, m.name); m {
			more = true
		}
	}
	return more
}

// projectRetrying runs one batch of projection name of the tenant unless it is backing off
// after a transient error; a transient error schedules its retry (see retryLater), or stops
// it once it has persisted (giveUp). carried is projectOne's.
func (p *Projector) projectRetrying(ctx context.Context, tenant uuid.UUID, name string) (more, carried bool) {
	if p.waitingToRetry(tenant, name) {
		return false, false
	}
	m, carried, err := p.projectOne(ctx, tenant, name)
	if err != nil {
		if ctx.Err() == nil && !p.giveUp(ctx, tenant, name, err) {
			p.retryLater(tenant, name, err)
		}
		return false, false
	}
	p.recovered(tenant, name)
	return m, carried
}

// ProjectBatch applies the tenant's next batch of events to each projection, and reports
// whether more remain. A deterministic error stops the projection concerned (it is not an
// error here); a transient one is returned.
func (p *Projector) ProjectBatch(ctx context.Context, tenant uuid.UUID) (more bool, err error) {
	if err := p.catalog().err; err != nil {
		return false, err
	}
	authDone := false
	for _, name := range p.catalog().names {
		if name == ProjectionAuth && authDone {
			continue
		}
		m, carried, err := p.projectOne(ctx, tenant, name)
		if err != nil {
			return false, err
		}
		more = more || m
		authDone = carried
	}
	return more, nil
}

// poisonError marks an event that cannot be applied: retrying will not help.
type poisonError struct {
	seq int64
	err error
}

func (e *poisonError) Error() string { return fmt.Sprintf("event seq %d: %v", e.seq, e.err) }

// batchWriteError is a deterministic failure of the writes a batch makes as a whole (the
// usage sums and the checkpoint) that no single event is blamed for yet.
type batchWriteError struct {
	first, last int64 // the batch's events
	err         error
}

func (e *batchWriteError) Error() string {
	return fmt.Sprintf("events seq %d to %d: %v", e.first, e.last, e.err)
}

// projectOne runs one batch of projection name for the tenant. It returns carried when the
// batch also moved the auth checkpoint past its events (usage batches only; see
// projectBatch). A deterministic error is attributed to one event, which stops the
// projection: a batch-level write that fails is replayed one event per transaction to find
// it, so it is never retried as a whole forever.
func (p *Projector) projectOne(ctx context.Context, tenant uuid.UUID, name string) (more, carried bool, err error) {
	res, err := p.projectBatch(ctx, tenant, name, 0, p.batchSize())
	if p.onAttempt != nil {
		p.onAttempt(tenant, name, err)
	}
	var poison *poisonError
	var whole *batchWriteError
	switch {
	case err == nil:
		return res.more, res.carried, nil
	case errors.As(err, &whole):
		if poison, err = p.findPoison(ctx, tenant, name); err != nil || poison == nil {
			return true, false, err // no single event fails on its own: go on from where it got
		}
	case !errors.As(err, &poison):
		return false, false, err
	}
	// Apply what came before the poison event, and record the failure, in one transaction.
	res, err = p.projectBatch(ctx, tenant, name, poison.seq, 0)
	if errors.As(err, &whole) {
		// The events before it fail together: find the first that fails alone.
		if poison, err = p.findPoison(ctx, tenant, name); err != nil || poison == nil {
			return true, false, err
		}
		res, err = p.projectBatch(ctx, tenant, name, poison.seq, 0)
	}
	if err != nil {
		return false, false, err
	}
	if res.recorded {
		p.poisoned(name)
		p.Logger.Error("projection stopped for tenant: event cannot be applied", "tenant_id", tenant,
			"projection", name, "seq", poison.seq, "err", poison.err)
	}
	return false, false, nil
}

// findPoison applies the projection's next events one per transaction until one fails
// deterministically, and returns it; nil when a batch's worth applied without one failing.
func (p *Projector) findPoison(ctx context.Context, tenant uuid.UUID, name string) (*poisonError, error) {
	for i := 0; i < p.batchSize(); i++ {
		res, err := p.projectBatch(ctx, tenant, name, 0, 1)
		var poison *poisonError
		var whole *batchWriteError
		switch {
		case errors.As(err, &poison):
			return poison, nil
		case errors.As(err, &whole):
			return &poisonError{seq: whole.first, err: whole.err}, nil
		case err != nil:
			return nil, err
		case !res.more || res.stopped:
			return nil, nil
		}
	}
	return nil, nil
}

// batchResult is what one projection transaction did.
type batchResult struct {
	more     bool // a full batch: there may be more
	carried  bool // the auth checkpoint stands at or past this batch's end too
	stopped  bool // the projection is stopped for the tenant
	recorded bool // this transaction recorded the failure (stopAt > 0)
}

// projectBatch runs one batch of projection name. With stopAt > 0 it applies only events
// before stopAt and records stopAt as the failed seq.
//
// A usage batch also tries (without waiting) the auth projection's lock: when it gets it and
// the auth checkpoint is not behind the batch's start, and no event of the batch after the
// auth checkpoint is one the auth projection applies, it moves the auth checkpoint to the
// batch's end in the same transaction. The auth projection has nothing to do for usage
// events, so this is exact, and under steady usage it saves a transaction per batch.
func (p *Projector) projectBatch(ctx context.Context, tenant uuid.UUID, name string, stopAt int64, limit int) (res batchResult, err error) {
	err = p.Store.InProjection(ctx, tenant, func(tx *eventstore.ProjectionTx) error {
		res = batchResult{}
		// One round trip: the tenant context and schema, the projection's lock (so
		// projectors in other processes take turns on it), then the checkpoints. The locks
		// are advisory and every write comes at the end, so this transaction has no id
		// while it reads: a transaction id held open would hold back the relay's gap-safe
		// horizon, and with it every tenant's projection.
		also := ""
		if name == ProjectionUsage {
			also = ProjectionAuth
		}
		own, auth, authLocked, err := tx.Lock(ctx, name, also)
		if err != nil {
			return err
		}
		if own.Failed {
			res.stopped = true
			return nil // stopped: an operator must look at it
		}
		seq := own.Seq
		if stopAt > 0 {
			limit = int(stopAt - seq - 1)
		}
		var page *eventstore.PageLimit // the tenant's LIMIT after cuts at BatchBytes, if it is the one used
		if l := p.pageLimit(tenant, name); stopAt == 0 && limit >= l.Limit() {
			page, limit = &l, l.Limit()
		}
		var carry *carryState
		if name == ProjectionUsage && authLocked && !auth.Failed && auth.Seq > 0 && auth.Seq >= seq {
			carry = &carryState{from: auth.Seq, ok: true}
		}
		authStopped := name == ProjectionUsage && auth.Failed
		var applied int
		if limit > 0 {
			if seq == 0 {
				// First event: provision the tenant's schema, in this same transaction.
				if err := tx.Provision(ctx); err != nil {
					if eventstore.IsTransient(err) {
						return err
					}
					return &poisonError{seq: 1, err: fmt.Errorf("provision schema: %w", err)}
				}
			}
			var cut bool
			if applied, seq, cut, err = p.applyEvents(ctx, tx, name, seq, limit, carry, func(last int64) {
				// The checkpoints travel with the batch's last writes.
				if stopAt == 0 {
					tx.SaveCheckpoint(name, last)
					if carry != nil && carry.ok && last > carry.from {
						tx.SaveCheckpoint(ProjectionAuth, last)
					}
				}
			}); err != nil {
				return err
			}
			res.more = applied == limit || cut
			if page != nil {
				p.sawPage(tenant, name, *page, applied, cut)
			}
		}
		if stopAt > 0 {
			recorded, err := tx.RecordFailure(ctx, name, seq, stopAt, fmt.Sprintf("event seq %d could not be applied", stopAt))
			res.recorded = recorded
			res.more, res.stopped = false, true
			return err
		}
		if applied > 0 {
			if carry != nil && carry.ok {
				res.carried = true
			}
		} else if carry != nil {
			res.carried = true // nothing new: the auth checkpoint is not behind
		}
		if authStopped {
			res.carried = true // the auth projection has nothing to do either
		}
		return nil
	})
	return res, err
}

// carryState follows, through a usage batch, whether the auth checkpoint (at from) may be
// moved to the batch's end: ok while no event after from is one the auth projection applies.
type carryState struct {
	from int64
	ok   bool
}

// applyEvents applies projection name's share of up to limit events after seq, and returns
// how many events it went through and the last seq. Events the projection does not own
// move the checkpoint without being decoded. It stops early (cut) before the event whose
// documents would take the batch past BatchBytes (not even read in full), and before an event whose
// usage would take a sum of this batch beyond an int64: that event starts the next batch,
// and is a poison event only if its own records overflow. finish, when set, may queue
// writes (checkpoints) to go with the last writes. carry, when set, is kept up to date (see
// carryState).
func (p *Projector) applyEvents(ctx context.Context, tx *eventstore.ProjectionTx, name string, seq int64, limit int,
	carry *carryState, finish func(last int64),
) (n int, last int64, cut bool, err error) {
	budget := eventstore.NewBatchBudget(p.BatchBytes)
	events, err := tx.ReadEvents(ctx, seq, limit, budget)
	if err != nil {
		return 0, seq, false, err
	}
	cut = budget.Cut
	cat := p.catalog()
	var sums usageSums
	for i := range events {
		e := &events[i]
		if e.Seq != seq+1 {
			return 0, seq, false, &poisonError{seq: seq + 1, err: fmt.Errorf("missing event (found seq %d)", e.Seq)}
		}
		if carry != nil && e.Seq > carry.from && cat.owns(ProjectionAuth, e.Type) {
			carry.ok = false
		}
		core, mods := cat.appliers(name, e.Type)
		if !core && len(mods) == 0 {
			seq = e.Seq
			continue
		}
		if !core && len(mods) == 1 && mods[0].raw != nil {
			// Undecoded: every type is the raw projection's, other binaries' products' too.
			if err := mods[0].run(ctx, tx, e, nil); err != nil {
				if eventstore.IsTransient(err) {
					return 0, seq, false, err
				}
				return 0, seq, false, &poisonError{seq: e.Seq, err: err}
			}
			seq = e.Seq
			continue
		}
		payload, err := p.Registry.DecodeEvent(e)
		if err != nil {
			return 0, seq, false, &poisonError{seq: e.Seq, err: err}
		}
		de := payload
		if de == nil {
			return 0, seq, false, &poisonError{seq: e.Seq, err: fmt.Errorf("%q decoded to nothing", e.Type)}
		}
		// Usage is the bulk of all events and only adds up: sum it and write once per batch.
		if recs, ok := usage.Records(de); ok && core {
			if fits, alone := sums.addEvent(recs, e.Seq); !fits {
				if !alone || i == 0 {
					return 0, seq, false, &poisonError{seq: e.Seq, err: errors.New("the event's usage adds up to more than an int64")}
				}
				events, cut = events[:i], true
				break
			}
		} else if core {
			if err := apply(ctx, tx, e, de); err != nil {
				if eventstore.IsTransient(err) {
					return 0, seq, false, err
				}
				return 0, seq, false, &poisonError{seq: e.Seq, err: err}
			}
		}
		for _, m := range mods {
			if err := m.run(ctx, tx, e, de); err != nil {
				if eventstore.IsTransient(err) {
					return 0, seq, false, err
				}
				return 0, seq, false, &poisonError{seq: e.Seq, err: err}
			}
		}
		seq = e.Seq
	}
	if len(events) == 0 {
		return 0, seq, false, nil
	}
	tx.AddUsage(sums.totals())
	if finish != nil {
		finish(seq)
	}
	if err := tx.Flush(ctx); err != nil {
		if eventstore.IsTransient(err) {
			return 0, seq, false, err
		}
		return 0, seq, false, &batchWriteError{first: events[0].Seq, last: seq, err: err}
	}
	if p.Observe != nil {
		p.Observe(tx.Tenant(), len(events), events[len(events)-1].RecordedAt)
	}
	return len(events), seq, cut, nil
}

// Transient errors are retried after a pause that doubles per attempt, from retryBase up to
// retryMax, with jitter so that many tenants failing together do not retry together.
const (
	retryBase = 200 * time.Millisecond
	retryMax  = 30 * time.Second
)

type retryKey struct {
	tenant     uuid.UUID
	projection string
}

type retryState struct {
	attempts int
	first    time.Time // the first failure of this run of failures
	until    time.Time
}

// retryLater schedules projection name of the tenant to be tried again after a backoff,
// without holding a worker: the tenant is notified when the pause is over.
func (p *Projector) retryLater(tenant uuid.UUID, name string, err error) {
	p.mu.Lock()
	p.init()
	k := retryKey{tenant, name}
	st := p.retry[k]
	if st == nil {
		st = &retryState{first: time.Now()}
		p.retry[k] = st
	}
	st.attempts++
	delay := retryBase << min(st.attempts-1, 10)
	if delay > retryMax {
		delay = retryMax
	}
	delay = delay/2 + rand.N(delay/2+1) // jitter: half to all of it
	st.until = time.Now().Add(delay)
	attempts := st.attempts
	p.mu.Unlock()
	p.Logger.Warn("projection batch failed; will retry", "tenant_id", tenant, "projection", name,
		"attempt", attempts, "retry_in_ms", float64(delay)/float64(time.Millisecond), "err", err)
	time.AfterFunc(delay, func() { p.Notify(tenant) })
}

// giveUp stops projection name of the tenant at its first unapplied event when err (which
// failed it once more) ends a run of transient failures longer than GiveUpAttempts attempts
// and GiveUpAfter: the failure is recorded as for an event that cannot be applied (listed,
// counted, logged once), so it is not retried without end and an operator sees it. It
// reports whether the projection is stopped now; false leaves it to be retried (it may also
// fail to record, the database being unreachable).
func (p *Projector) giveUp(ctx context.Context, tenant uuid.UUID, name string, err error) bool {
	p.mu.Lock()
	st := p.retry[retryKey{tenant, name}]
	exhausted := st != nil && st.attempts+1 >= orDefault(p.GiveUpAttempts, 10) &&
		time.Since(st.first) >= orDefault(p.GiveUpAfter, 2*time.Minute)
	var attempts int
	var since time.Duration
	if exhausted {
		attempts, since = st.attempts+1, time.Since(st.first).Round(time.Second)
	}
	p.mu.Unlock()
	if !exhausted {
		return false
	}
	var at int64
	var recorded bool
	rerr := p.Store.InProjection(ctx, tenant, func(tx *eventstore.ProjectionTx) error {
		own, _, _, err := tx.Lock(ctx, name, "")
		if err != nil || own.Failed {
			return err
		}
		at = own.Seq + 1
		recorded, err = tx.RecordFailure(ctx, name, own.Seq, at,
			fmt.Sprintf("event seq %d could not be applied: a transient error persisted over %d attempts in %s", at, attempts, since))
		return err
	})
	if rerr != nil {
		return false
	}
	p.recovered(tenant, name)
	if recorded {
		p.poisoned(name)
		p.Logger.Error("projection stopped for tenant: a transient error did not clear", "tenant_id", tenant,
			"projection", name, "seq", at, "attempts", attempts, "for_ms", float64(since)/float64(time.Millisecond), "err", err)
	}
	return true
}

// waitingToRetry reports whether projection name of the tenant is pausing after a
// transient error.
func (p *Projector) waitingToRetry(tenant uuid.UUID, name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.retry[retryKey{tenant, name}]
	return st != nil && time.Now().Before(st.until)
}

// backingOff reports whether any projection of the tenant is pausing.
func (p *Projector) backingOff(tenant uuid.UUID) bool {
	for _, name := range p.catalog().names {
		if p.waitingToRetry(tenant, name) {
			return true
		}
	}
	return false
}

// recovered forgets a projection's failed attempts after a batch succeeded.
func (p *Projector) recovered(tenant uuid.UUID, name string) {
	p.mu.Lock()
	delete(p.retry, retryKey{tenant, name})
	p.mu.Unlock()
}
