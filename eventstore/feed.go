package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The per-tenant event feed (GET /v1/events): a page of a tenant's events with its head,
// and a wait for the tenant's next event that is woken by appends, never by polling: an
// append through any Store of this process wakes the tenant's watchers at once, and one
// connection per pool LISTENs on NotifyChannel for other processes' appends (their
// Notifier), after which one read-only transaction reads the heads of every watched tenant.

const feedHeadSQL = `SELECT coalesce((SELECT seq FROM tenantry.tenant_heads WHERE tenant_id = $1), 0)`

// FeedPage returns up to limit of the tenant's events after afterSeq in seq order, cut by
// size as ReadTenantBounded's pages are, with the tenant's head (its last seq) read in the
// same transaction before them: events after the page exist when the last one's seq is
// below head (or when limit events were returned and more follow).
func (s *Store) FeedPage(ctx context.Context, tenant uuid.UUID, afterSeq int64, limit int) (events []Event, head int64, err error) {
	if tenant == uuid.Nil {
		return nil, 0, ErrNoTenant
	}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(tenantOnlySQL, tenant.String())
		b.Queue(feedHeadSQL, tenant).QueryRow(func(r pgx.Row) error { return r.Scan(&head) })
		b.Queue(readTenantBoundedSQL, tenant, max(afterSeq, 0), clampPage(limit), MaxPageBytes).Query(func(rows pgx.Rows) error {
			var err error
			events, err = collectEvents(rows)
			return err
		})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read tenant %s feed after seq %d: %w", tenant, afterSeq, err)
	}
	return events, head, nil
}

// FeedListenLinger is how long a pool's LISTEN connection stays up after its last watcher
// left, so that a client long-polling page after page does not reconnect each time.
const FeedListenLinger = 30 * time.Second

// EventWatch watches one tenant for events after a seq (Store.WatchTenant). Register it
// before reading, so that no event committed between the read and the wait is missed.
type EventWatch struct {
	tenant uuid.UUID
	tw     *feedTenant
	seen   int64
	pool   *pgxpool.Pool
	closed bool
}

// WatchTenant starts watching the tenant for an event after afterSeq; Close it when done.
func (s *Store) WatchTenant(tenant uuid.UUID, afterSeq int64) *EventWatch {
	tw := feeds.register(s.pool, tenant, afterSeq)
	return &EventWatch{tenant: tenant, tw: tw, seen: afterSeq, pool: s.pool}
}

// Wait blocks until an event after the last seq seen by this watch is known to be
// recorded (it returns true and moves the watch on), or ctx ends (false). A true answer
// may come once for events the caller has already read: read again to see.
func (w *EventWatch) Wait(ctx context.Context) bool {
	for {
		feeds.mu.Lock()
		head, ch := w.tw.head, w.tw.changed
		feeds.mu.Unlock()
		if head > w.seen {
			w.seen = head
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// Close stops the watch; calling it again does nothing.
func (w *EventWatch) Close() {
	if !w.closed {
		w.closed = true
		feeds.unregister(w.pool, w.tenant)
	}
}

// feeds is the process's feed watchers.
var feeds = &feedHub{tenants: map[uuid.UUID]*feedTenant{}, pools: map[*pgxpool.Pool]*feedListener{}}

type feedHub struct {
	watched atomic.Int64 // tenants watched: appends skip the lock while none is
	mu      sync.Mutex
	tenants map[uuid.UUID]*feedTenant
	pools   map[*pgxpool.Pool]*feedListener
}

type feedTenant struct {
	watchers int
	head     int64         // the highest seq known recorded
	changed  chan struct{} // closed (and replaced) whenever head moves
}

type feedListener struct {
	watchers int
	cancel   context.CancelFunc
	idle     *time.Timer // stops the listener once it has had no watcher for FeedListenLinger
}

func (h *feedHub) register(pool *pgxpool.Pool, tenant uuid.UUID, afterSeq int64) *feedTenant {
	h.mu.Lock()
	defer h.mu.Unlock()
	tw := h.tenants[tenant]
	if tw == nil {
		tw = &feedTenant{changed: make(chan struct{})}
		h.tenants[tenant] = tw
		h.watched.Add(1)
	}
	tw.watchers++
	tw.head = max(tw.head, afterSeq)
	l := h.pools[pool]
	if l == nil {
		ctx, cancel := context.WithCancel(context.Background())
		l = &feedListener{cancel: cancel}
		h.pools[pool] = l
		go h.listen(ctx, pool, l)
	}
	if l.idle != nil {
		l.idle.Stop()
		l.idle = nil
	}
	l.watchers++
	return tw
}

func (h *feedHub) unregister(pool *pgxpool.Pool, tenant uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if tw := h.tenants[tenant]; tw != nil {
		if tw.watchers--; tw.watchers <= 0 {
			delete(h.tenants, tenant)
			h.watched.Add(-1)
		}
	}
	l := h.pools[pool]
	if l == nil {
		return
	}
	if l.watchers--; l.watchers <= 0 && l.idle == nil {
		l.idle = time.AfterFunc(FeedListenLinger, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.pools[pool] == l && l.watchers <= 0 {
				delete(h.pools, pool)
				l.cancel()
			}
		})
	}
}

// appended tells the tenant's watchers, if any, that events up to seq are recorded.
func (h *feedHub) appended(tenant uuid.UUID, seq int64) {
	if h.watched.Load() == 0 { // the common case: nobody long-polls, no lock on the append path
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.moved(tenant, seq)
}

// movedLocked is moved taking the hub's lock.
func (h *feedHub) movedLocked(tenant uuid.UUID, seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.moved(tenant, seq)
}

// moved is appended with the hub's lock held.
func (h *feedHub) moved(tenant uuid.UUID, seq int64) {
	tw := h.tenants[tenant]
	if tw == nil || seq <= tw.head {
		return
	}
	tw.head = seq
	close(tw.changed)
	tw.changed = make(chan struct{})
}

// listen LISTENs on NotifyChannel through one connection of pool until ctx ends, and reads
// the heads of the watched tenants after each notification, and each
// time it (re)connects (appends made while it was not listening are found then).
func (h *feedHub) listen(ctx context.Context, pool *pgxpool.Pool, l *feedListener) {
	notified := make(chan struct{}, 1)
	// This process's appends wake their watchers directly (appended): their NOTIFYs are
	// ignored. Another process's names the heads it moved when they fit: those move the
	// watches at once; any other asks for every watched tenant's head to be read.
	look := signal(notified)
	go listen(ctx, pool, func(payload string) {
		if !parseNotifyHeads(payload, h.movedLocked) {
			look(payload)
		}
	}, true, slog.New(slog.DiscardHandler))
	for {
		select {
		case <-ctx.Done():
			return
		case <-notified:
		}
		h.readHeads(ctx, pool)
	}
}

// readHeads reads the heads of every watched tenant through pool (whichever pool a tenant
// is watched through: a notification may concern any of them), in read-only transactions
// of up to waitChunk tenants each (each in its own tenant context), and wakes the watchers
// of those that moved. An error leaves them waiting for the next notification.
func (h *feedHub) readHeads(ctx context.Context, pool *pgxpool.Pool) {
	h.mu.Lock()
	var ids []uuid.UUID
	for id := range h.tenants {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), waitChunk)
		chunk := ids[:n]
		ids = ids[n:]
		heads := make([]int64, len(chunk))
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := pgx.BeginTxFunc(rctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for i, id := range chunk {
				b.Queue(tenantOnlySQL, id.String())
				b.Queue(feedHeadSQL, id).QueryRow(func(r pgx.Row) error { return r.Scan(&heads[i]) })
			}
			return tx.SendBatch(rctx, b).Close()
		})
		cancel()
		if err != nil {
			continue
		}
		h.mu.Lock()
		for i, id := range chunk {
			h.moved(id, heads[i])
		}
		h.mu.Unlock()
	}
}
