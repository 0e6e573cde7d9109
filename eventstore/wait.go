package eventstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrProjectionStopped means a projection a reader waits for is stopped for the tenant on
// an event it cannot apply: waiting longer cannot help. Errors that wrap it are
// *StoppedError, naming the projection.
var ErrProjectionStopped = errors.New("projection stopped for the tenant")

// StoppedError is ErrProjectionStopped for one projection.
type StoppedError struct{ Projection string }

func (e *StoppedError) Error() string {
	return "the " + e.Projection + " projection is stopped for the tenant"
}

// Is makes a StoppedError match ErrProjectionStopped.
func (e *StoppedError) Is(target error) bool { return target == ErrProjectionStopped }

// WaitPollInterval is how often a process reads the checkpoints of the tenants its
// requests wait for, in one transaction for all of them, to see the progress of projectors
// in other processes. A projector in the same process wakes its waiters at once.
const WaitPollInterval = 50 * time.Millisecond

// waitChunk bounds the tenants one poll transaction reads.
const waitChunk = 500

const (
	progressSQL = `SELECT coalesce((SELECT seq FROM tenantry.tenant_heads WHERE tenant_id = $1), 0),
	coalesce((SELECT min(seq) FROM tenantry.projections WHERE tenant_id = $1 AND projection = ANY($2::text[])
	          HAVING count(*) = cardinality($2::text[])), 0)`
)

// WaitFor blocks until every projection of the tenant includes seq, or until timeout (then
// it returns context.DeadlineExceeded); ErrProjectionStopped at once when one is stopped
// before seq.
func (s *Store) WaitFor(ctx context.Context, tenant uuid.UUID, seq int64, timeout time.Duration) error {
	return s.WaitForProjections(ctx, tenant, seq, timeout, Projections[:]...)
}

// WaitForProjections is WaitFor for the named projections only: a reader waits for the
// read models it reads (authorisation state waits for ProjectionAuth, usage reads for
// ProjectionUsage), so one projection's trouble never stalls readers of the other.
//
// Waiting costs no query per waiter: the waiters of a process share one poll of every
// waited-on tenant's checkpoints each WaitPollInterval, and a projector in this process
// publishes each checkpoint it commits to them directly.
func (s *Store) WaitForProjections(ctx context.Context, tenant uuid.UUID, seq int64, timeout time.Duration, names ...string) error {
	if seq <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tw := hub.register(s.pool, tenant)
	defer hub.unregister(tenant)
	for {
		hub.mu.Lock()
		known, ch := tw.known, tw.changed
		reached, stopped := true, ""
		for _, n := range names {
			st := tw.state[n]
			if st.Seq < seq {
				reached = false
				if st.Failed {
					stopped = n
				}
			}
		}
		hub.mu.Unlock()
		switch {
		case known && reached:
			return nil
		case known && stopped != "":
			return &StoppedError{Projection: stopped}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Progress returns the tenant's last event seq and the seq all its read models include
// (the least of the named projections' checkpoints; no names: Tenantry's own, Projections;
// a process running product modules names theirs too, projections.Projector.Names).
func (s *Store) Progress(ctx context.Context, tenant uuid.UUID, names ...string) (head, projected int64, err error) {
	err = InTenant(ctx, s.pool, tenant, true, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, progressSQL, tenant, projectionNames(names)).Scan(&head, &projected)
	})
	return head, projected, err
}

// hub is the process's waiters: the tenants requests wait for, and what is known of their
// checkpoints.
var hub = &waitHub{tenants: map[uuid.UUID]*tenantWait{}, kick: make(chan struct{}, 1)}

type waitHub struct {
	mu      sync.Mutex
	tenants map[uuid.UUID]*tenantWait
	polling bool
	kick    chan struct{}
}

type tenantWait struct {
	pool    *pgxpool.Pool
	waiters int
	known   bool // read from the database at least once since the first waiter came
	state   map[string]Checkpoint
	changed chan struct{} // closed (and replaced) whenever state changes
}

// register adds a waiter for the tenant and makes sure the poller runs; a tenant nobody
// waited for yet is read at once.
func (h *waitHub) register(pool *pgxpool.Pool, tenant uuid.UUID) *tenantWait {
	h.mu.Lock()
	tw := h.tenants[tenant]
	fresh := tw == nil
	if fresh {
		tw = &tenantWait{pool: pool, state: map[string]Checkpoint{}, changed: make(chan struct{})}
		h.tenants[tenant] = tw
	}
	tw.waiters++
	start := !h.polling
	h.polling = true
	h.mu.Unlock()
	if start {
		go h.poll()
	} else if fresh {
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
	return tw
}

func (h *waitHub) unregister(tenant uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if tw := h.tenants[tenant]; tw != nil {
		if tw.waiters--; tw.waiters <= 0 {
			delete(h.tenants, tenant)
		}
	}
}

// publishAll tells the waiters of each tenant, if any, that a projection transaction of
// this process committed its checkpoints.
func (h *waitHub) publishAll(moved []movedCheckpoint) {
	for _, m := range moved {
		h.publish(m.tenant, m.projection, m.seq, m.failed)
	}
}

// publish tells the waiters of the tenant, if any, that a projector of this process
// committed a checkpoint.
func (h *waitHub) publish(tenant uuid.UUID, projection string, seq int64, failed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tw := h.tenants[tenant]
	if tw == nil {
		return
	}
	st := tw.state[projection]
	if seq > st.Seq {
		st.Seq = seq
	}
	st.Failed = st.Failed || failed
	tw.state[projection] = st
	close(tw.changed)
	tw.changed = make(chan struct{})
}

// poll reads the checkpoints of every waited-on tenant, then again after WaitPollInterval
// or when a new tenant is waited for, until nobody waits.
func (h *waitHub) poll() {
	for {
		h.mu.Lock()
		if len(h.tenants) == 0 {
			h.polling = false
			h.mu.Unlock()
			return
		}
		byPool := map[*pgxpool.Pool][]uuid.UUID{}
		for id, tw := range h.tenants {
			byPool[tw.pool] = append(byPool[tw.pool], id)
		}
		h.mu.Unlock()
		for pool, ids := range byPool {
			for len(ids) > 0 {
				n := min(len(ids), waitChunk)
				h.read(pool, ids[:n])
				ids = ids[n:]
			}
		}
		select {
		case <-h.kick:
		case <-time.After(WaitPollInterval):
		}
	}
}

// read reads the checkpoints of tenants in one read-only transaction, each in its own
// tenant context (row-level security), and wakes their waiters. An error leaves them
// waiting for the next poll.
func (h *waitHub) read(pool *pgxpool.Pool, tenants []uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	found := make([]map[string]Checkpoint, len(tenants))
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i, id := range tenants {
			found[i] = map[string]Checkpoint{}
			b.Queue(tenantOnlySQL, id.String())
			b.Queue(checkpointsSQL, id).Query(func(rows pgx.Rows) error {
				return eachCheckpoint(rows, func(name string, c Checkpoint) { found[i][name] = c })
			})
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, id := range tenants {
		tw := h.tenants[id]
		if tw == nil {
			continue
		}
		for name, c := range found[i] {
			st := tw.state[name]
			if c.Seq > st.Seq {
				st.Seq = c.Seq
			}
			st.Failed = c.Failed // the database knows best (a rebuild clears a failure)
			tw.state[name] = st
		}
		tw.known = true
		close(tw.changed)
		tw.changed = make(chan struct{})
	}
}
