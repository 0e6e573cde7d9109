package app

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/entitlements"
)

// usageSnapshot is a tenant's usage totals in one quota period as of its head seq.
type usageSnapshot struct {
	period entitlements.Period
	head   int64
	totals entitlements.Totals
}

// tenantMemories is the bounded set of tenants held, least recently used last.
type tenantMemories struct {
	e       *Entitlements
	mu      sync.Mutex
	order   *list.List // of *tenantMemory, most recently used first
	byID    map[uuid.UUID]*list.Element
	root    context.Context
	stopAll context.CancelFunc
}

func newTenantMemories(e *Entitlements) *tenantMemories {
	root, cancel := context.WithCancel(context.Background())
	return &tenantMemories{e: e, order: list.New(), byID: map[uuid.UUID]*list.Element{}, root: root, stopAll: cancel}
}

// tenantMemory is one tenant's usage in memory, kept current by its follow goroutine.
type tenantMemory struct {
	tenant   uuid.UUID
	snap     atomic.Pointer[usageSnapshot]
	lastUsed atomic.Int64 // unix nanoseconds
	stop     context.CancelFunc
	done     chan struct{} // closed when follow has returned (its watch closed)

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) whenever snap is stored or follow ends
	err     error         // why follow ended before its first load
	wake    func()        // ends follow's current wait
	poked   bool          // a refresh was asked for since follow's last load began
}

// get returns the tenant's memory, starting it when absent (evicting the least recently
// used tenant beyond MaxTenants, and any that have been idle too long).
func (ms *tenantMemories) get(tenant uuid.UUID, now time.Time) *tenantMemory {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if el, ok := ms.byID[tenant]; ok {
		ms.order.MoveToFront(el)
		tm := el.Value.(*tenantMemory)
		tm.lastUsed.Store(now.UnixNano())
		return tm
	}
	ctx, cancel := context.WithCancel(ms.root)
	tm := &tenantMemory{tenant: tenant, stop: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	tm.lastUsed.Store(now.UnixNano())
	ms.byID[tenant] = ms.order.PushFront(tm)
	for ms.order.Len() > ms.e.cfg.MaxTenants {
		ms.removeLocked(ms.order.Back().Value.(*tenantMemory))
	}
	ms.sweepLocked(now)
	go ms.follow(ctx, tm)
	return tm
}

// follow loads the tenant's current period and reloads it whenever its head moves and
// when the period ends, until the tenant is evicted. One refresh runs at a time; wakes
// during a refresh make one more.
func (ms *tenantMemories) follow(ctx context.Context, tm *tenantMemory) {
	defer close(tm.done)
	defer tm.publish(nil) // wake waiters: nothing more will come
	// Watch before the first read, so that nothing appended in between is missed.
	w := ms.e.src.WatchTenant(tm.tenant, 0)
	defer w.Close()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		tm.loading()
		period := entitlements.PeriodOf(ms.e.clock.Now())
		head, totals, err := ms.e.src.UsageTotals(ctx, tm.tenant, period.Start)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if tm.snap.Load() == nil {
				tm.fail(err)
				ms.remove(tm)
				return
			}
			if ms.e.cfg.OnError != nil {
				ms.e.cfg.OnError(tm.tenant, err)
			}
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		tm.publish(&usageSnapshot{period: period, head: head, totals: totals})
		// Wait for the next event, the period's end (a new period starts from nothing), or
		// a reader that knows of a later seq (poke).
		wctx, cancel := context.WithDeadline(ctx, period.End)
		if tm.waitFrom(cancel) {
			w.Wait(wctx)
		}
		cancel()
	}
}

// loading marks a load beginning: it covers every poke made so far.
func (tm *tenantMemory) loading() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.wake, tm.poked = nil, false
}

// waitFrom records how to end the wait about to begin; false when a poke came since the
// last load began (refresh again at once).
func (tm *tenantMemory) waitFrom(cancel func()) bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.poked {
		tm.poked = false
		return false
	}
	tm.wake = cancel
	return true
}

// poke asks follow to refresh now: a reader has seen a head its memory has not (a
// notification from another process may be late or lost).
func (tm *tenantMemory) poke() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.wake != nil {
		tm.wake()
		tm.wake = nil
		return
	}
	tm.poked = true
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// publish stores s (when not nil) and wakes the waiters.
func (tm *tenantMemory) publish(s *usageSnapshot) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if s != nil {
		tm.snap.Store(s)
	}
	close(tm.changed)
	tm.changed = make(chan struct{})
}

func (tm *tenantMemory) fail(err error) {
	tm.mu.Lock()
	tm.err = err
	tm.mu.Unlock()
}

// await waits (at most wait) until the memory holds a snapshot that ok accepts.
func (tm *tenantMemory) await(ctx context.Context, wait time.Duration, ok func(*usageSnapshot) bool) (*usageSnapshot, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	ended := false
	for {
		tm.mu.Lock()
		s, ch, err := tm.snap.Load(), tm.changed, tm.err
		tm.mu.Unlock()
		switch {
		case s != nil && ok(s):
			return s, nil
		case err != nil:
			return nil, err
		case ended:
			return nil, ErrEntitlementsBehind // evicted (or shut down) before it caught up
		}
		select {
		case <-ch:
		case <-tm.done:
			ended = true
		case <-timer.C:
			return nil, ErrEntitlementsBehind
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (ms *tenantMemories) remove(tm *tenantMemory) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.removeLocked(tm)
}

func (ms *tenantMemories) removeLocked(tm *tenantMemory) {
	if el, ok := ms.byID[tm.tenant]; ok && el.Value == tm {
		ms.order.Remove(el)
		delete(ms.byID, tm.tenant)
	}
	tm.stop()
}

// sweep evicts the tenants not asked about for IdleAfter.
func (ms *tenantMemories) sweep(now time.Time) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.sweepLocked(now)
}

func (ms *tenantMemories) sweepLocked(now time.Time) {
	cutoff := now.Add(-ms.e.cfg.IdleAfter).UnixNano()
	for el := ms.order.Back(); el != nil; {
		tm := el.Value.(*tenantMemory)
		if tm.lastUsed.Load() >= cutoff {
			return // the rest were used more recently
		}
		el = el.Prev()
		ms.removeLocked(tm)
	}
}

func (ms *tenantMemories) len() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.order.Len()
}

// closeAll drops every tenant and waits for their watches to close.
func (ms *tenantMemories) closeAll() {
	ms.mu.Lock()
	var all []*tenantMemory
	for el := ms.order.Front(); el != nil; el = el.Next() {
		all = append(all, el.Value.(*tenantMemory))
	}
	ms.mu.Unlock()
	ms.stopAll()
	for _, tm := range all {
		<-tm.done
	}
	ms.mu.Lock()
	ms.order.Init()
	clear(ms.byID)
	ms.mu.Unlock()
}
