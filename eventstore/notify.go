package eventstore

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Appends are announced to other processes by NOTIFY on NotifyChannel. A notification's
// payload is the sending process's token (so that its own listeners can tell it from other
// processes'), followed, when they fit, by the heads the appends moved: " tenant=seq,..."
// (notifyPayload). A listener that watches tenants (the event feed, the entitlements) then
// learns their new heads from the payload itself, instead of reading the head of every
// tenant it watches after every notification; a bare token (too many tenants moved, or a
// process of an older version) still means "something was appended: look".

// processToken starts the payload of this process's NOTIFYs.
var processToken = uuid.NewString()

// ownNotification reports whether a payload is this process's.
func ownNotification(payload string) bool {
	return payload == processToken || strings.HasPrefix(payload, processToken+" ")
}

// maxNotifyPayload keeps a payload under PostgreSQL's limit (8000 bytes), and
// maxNotifyTenants bounds the heads one announcement carries: beyond them it says only
// that something was appended (listeners then read the heads they watch).
const (
	maxNotifyPayload = 7900
	maxNotifyTenants = 4 * maxNotifyPayload / 50
)

// notifyPayloads are the payloads announcing heads: one or more notifications of at most
// maxNotifyPayload bytes, or one bare token when there are too many heads.
func notifyPayloads(heads map[uuid.UUID]int64) []string {
	if len(heads) == 0 || len(heads) > maxNotifyTenants {
		return []string{processToken}
	}
	var out []string
	var b strings.Builder
	for id, seq := range heads {
		entry := id.String() + "=" + strconv.FormatInt(seq, 10)
		if b.Len() > 0 && b.Len()+1+len(entry) > maxNotifyPayload {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(processToken)
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(entry)
	}
	return append(out, b.String())
}

// parseNotifyHeads reads the heads of another process's payload; ok is false when it names
// none (a bare token, a reconnect's "", or a payload this version cannot read), which means
// any watched tenant may have moved.
func parseNotifyHeads(payload string, fn func(tenant uuid.UUID, seq int64)) (ok bool) {
	_, list, found := strings.Cut(payload, " ")
	if !found || list == "" {
		return false
	}
	type head struct {
		id  uuid.UUID
		seq int64
	}
	var heads []head
	for entry := range strings.SplitSeq(list, ",") {
		t, s, found := strings.Cut(entry, "=")
		id, err := uuid.Parse(t)
		seq, serr := strconv.ParseInt(s, 10, 64)
		if !found || err != nil || serr != nil || seq < 0 {
			return false
		}
		heads = append(heads, head{id, seq})
	}
	for _, h := range heads {
		fn(h.id, h.seq)
	}
	return true
}

// Notifier announces appends: in process through its channel, and to other processes with
// NOTIFY (carrying the heads they moved, see notifyPayloads), coalesced so a burst of
// appends costs one announcement per interval, off the commit path (NOTIFY inside append
// transactions would serialise their commits).
type Notifier struct {
	pool     *pgxpool.Pool
	pending  chan struct{}
	local    []chan struct{}
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	heads map[uuid.UUID]int64 // moved since the last announcement
}

// NewNotifier returns a notifier; give it to the stores it announces (StoreConfig.Notifier)
// and run it.
func NewNotifier(pool *pgxpool.Pool, interval time.Duration, log *slog.Logger) *Notifier {
	if interval <= 0 {
		interval = 5 * time.Millisecond
	}
	return &Notifier{pool: pool, pending: make(chan struct{}, 1), interval: interval, log: log, heads: map[uuid.UUID]int64{}}
}

// Subscribe returns a channel signalled (coalesced) after appends in this process.
// Call it before Run.
func (n *Notifier) Subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	n.local = append(n.local, c)
	return c
}

// appended records that the tenant's events up to seq were appended; it never blocks for
// long (one map update; past maxNotifyTenants heads the next announcement is a bare token
// anyway, so they are not kept).
func (n *Notifier) appended(tenant uuid.UUID, seq int64) {
	n.mu.Lock()
	if len(n.heads) <= maxNotifyTenants {
		n.heads[tenant] = max(n.heads[tenant], seq)
	}
	n.mu.Unlock()
	select {
	case n.pending <- struct{}{}:
	default:
	}
}

// Run sends the coalesced notifications until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.pending:
		}
		for _, c := range n.local {
			select {
			case c <- struct{}{}:
			default:
			}
		}
		n.mu.Lock()
		heads := n.heads
		n.heads = make(map[uuid.UUID]int64, len(heads))
		n.mu.Unlock()
		for _, p := range notifyPayloads(heads) {
			if _, err := n.pool.Exec(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, p); err != nil && ctx.Err() == nil {
				n.log.Warn("notify failed; listeners will poll", "err", err)
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(n.interval):
		}
	}
}
