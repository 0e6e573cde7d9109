package eventstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NotifyChannel is the LISTEN/NOTIFY channel that announces new events.
const NotifyChannel = "tenantry_events"

// Message metadata keys set by the relay. A message carries one or more consecutive events
// of one tenant (see EventsMessage).
const (
	MetaTenantID     = "tenant_id"
	MetaFirstSeq     = "first_seq"     // the tenant seq of the message's first event
	MetaSeq          = "seq"           // the tenant seq of the message's last event
	MetaTypes        = "event_types"   // the distinct event types in the message, comma-separated
	MetaPartitionKey = "partition_key" // the tenant id: per-tenant order on partitioned buses
	// metaLegacyType is the event type of a one-event message from a relay before per-tenant
	// batches; consumers still read such messages.
	metaLegacyType = "event_type"
)

// Envelope is the JSON form of one relayed event, complete; a message's body is a JSON array
// of them.
type Envelope struct {
	TenantID      string          `json:"tenant_id"`
	Seq           int64           `json:"seq"`
	StreamID      string          `json:"stream_id"`
	StreamVersion int64           `json:"stream_version"`
	EventID       string          `json:"event_id"`
	Type          string          `json:"event_type"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
	Metadata      json.RawMessage `json:"metadata"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Hash          string          `json:"hash"`
}

// MaxMessageBytes is the size a relayed message grows to before the tenant's next events go
// into another (a single larger event travels alone). It stays under NATS's default 1 MiB
// payload limit.
const MaxMessageBytes = 512 << 10

// Relay tails the events table with the gap-safe global cursor and publishes every event,
// in order, to a Watermill publisher. Delivery is at least once: the cursor is saved after
// the publisher accepted a batch, so a crash in between republishes that batch; consumers
// are idempotent by (tenant, seq). A NOTIFY (or the in-process Notifier) wakes it; without
// one it polls every PollInterval.
//
// A batch (one read, one Publish) holds at most BatchSize events and at most BatchBytes of
// their documents (data and metadata; at least one event, see BatchBudget), so a run of
// large events costs the relay a few MiB at a time, never BatchSize of them; after a page
// cut at that bound the next pages ask for fewer events (PageLimit).
type Relay struct {
	Store        *Store
	Publisher    message.Publisher
	Topic        string
	Name         string // cursor name, e.g. "relay"
	Logger       *slog.Logger
	PollInterval time.Duration // default 1s
	BatchSize    int           // default 500
	BatchBytes   int           // default MaxBatchBytes
	// Wake, when set, is an in-process signal that events were appended.
	Wake <-chan struct{}
	// Observe, when set, is told after each published batch: its size and the newest
	// recorded_at in it (for relay lag metrics).
	Observe func(events int, newest time.Time)
	// Lease makes Run relay only while it holds the cluster-wide relay lease: a
	// session-level advisory lock, so exactly one relay is active among all processes and,
	// when its process dies, its connection closes and another takes over within seconds,
	// from the saved cursor (nothing is skipped; a batch may be published twice).
	Lease bool
}

// relayLeaseKey is the key of the relay lease's advisory lock (class LockRelayLease).
const relayLeaseKey = 0

// Run relays until ctx ends; with Lease, only while it holds the lease. It runs on a copy
// with PollInterval and BatchSize defaulted, so a running relay never rewrites its fields.
func (r *Relay) Run(ctx context.Context) error {
	r = r.withDefaults()
	if !r.Lease {
		return r.run(ctx)
	}
	for ctx.Err() == nil {
		if err := r.lead(ctx); err != nil && ctx.Err() == nil {
			r.Logger.Warn("relay lease lost or unavailable; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// lead waits for the lease, relays while it holds it, and returns when it loses it.
func (r *Relay) lead(ctx context.Context) error {
	conn, err := r.Store.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(LockRelayLease), relayLeaseKey).Scan(&got); err != nil || !got {
		conn.Release()
		return err
	}
	r.Logger.Info("relay lease taken: this process relays")
	leadCtx, stop := context.WithCancel(ctx)
	lost := make(chan error, 1)
	watching := make(chan struct{})
	defer func() {
		// The watcher pings the lease connection: it must be gone before the connection is
		// closed (a pgx connection is not safe for concurrent use). Closing ends the lease.
		stop()
		<-watching
		_ = conn.Hijack().Close(context.WithoutCancel(ctx))
	}()
	go func() { // the lease lives as long as its connection: watch it
		defer close(watching)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-leadCtx.Done():
				return
			case <-t.C:
				if err := conn.Ping(leadCtx); err != nil && leadCtx.Err() == nil {
					lost <- fmt.Errorf("lease connection: %w", err)
					stop()
					return
				}
			}
		}
	}()
	err = r.run(leadCtx)
	select {
	case e := <-lost:
		return e
	default:
		return err
	}
}

// withDefaults is a copy of r with PollInterval (1s) and BatchSize (500) set when unset.
func (r *Relay) withDefaults() *Relay {
	c := *r
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	return &c
}

// run relays until ctx ends.
func (r *Relay) run(ctx context.Context) error {
	cursor, err := LoadCursor(ctx, r.Store.pool, r.Name)
	if err != nil {
		return err
	}
	notified := make(chan struct{}, 1)
	// With an in-process Wake, this process's own NOTIFYs would wake the relay a second
	// time for the same appends: listen for other processes' only.
	go listen(ctx, r.Store.pool, signal(notified), r.Wake != nil, r.Logger)
	limit := PageLimit{Max: r.BatchSize}
	for {
		for {
			more, next, err := r.relayBatch(ctx, cursor, &limit)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				r.Logger.Error("relay batch failed; retrying", "err", err)
				break
			}
			cursor = next
			if !more {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-notified:
		case <-r.Wake:
		case <-time.After(r.PollInterval):
		}
	}
}

// relayBatch publishes the next batch after cursor and returns the cursor after it, and
// whether more may follow at once (a batch full in events, or cut at BatchBytes). It reads
// at most limit's events, and tells limit what it read.
func (r *Relay) relayBatch(ctx context.Context, cursor GlobalCursor, limit *PageLimit) (bool, GlobalCursor, error) {
	budget := NewBatchBudget(r.BatchBytes)
	asked := limit.Limit()
	events, next, err := r.Store.readAllWithin(ctx, cursor, asked, budget)
	if err != nil {
		return false, cursor, err
	}
	limit.Saw(len(events), budget.Cut)
	if len(events) == 0 {
		return false, cursor, nil
	}
	msgs, err := TenantMessages(events)
	if err != nil {
		return false, cursor, err
	}
	if err := r.Publisher.Publish(r.Topic, msgs...); err != nil {
		return false, cursor, fmt.Errorf("publish %d events: %w", len(events), err)
	}
	// The batch is out: record that even if shutdown began meanwhile, or the next leader
	// would publish it again (consumers are idempotent by seq, but a restart should not
	// repeat what was sent).
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := SaveCursor(saveCtx, r.Store.pool, r.Name, next); err != nil {
		return false, cursor, err
	}
	if r.Observe != nil {
		newest := events[0].RecordedAt
		for i := range events {
			if events[i].RecordedAt.After(newest) {
				newest = events[i].RecordedAt
			}
		}
		r.Observe(len(events), newest)
	}
	return len(events) == asked || budget.Cut, next, nil
}

// TenantMessages turns a batch of events in global order into messages, each carrying
// consecutive events of one tenant in seq order (at most MaxMessageBytes, unless a single
// event is larger). A tenant's messages come in its seq order; different tenants' messages
// are independent. Per-message costs (the bus's copies, acknowledgements, goroutines) are
// so paid per tenant and batch, not per event.
func TenantMessages(events []Event) ([]*message.Message, error) {
	var order []uuid.UUID
	byTenant := map[uuid.UUID][]int{}
	for i := range events {
		t := events[i].TenantID
		if _, ok := byTenant[t]; !ok {
			order = append(order, t)
		}
		byTenant[t] = append(byTenant[t], i)
	}
	var msgs []*message.Message
	for _, t := range order {
		idx := byTenant[t]
		part := make([]Event, 0, len(idx))
		size := 0
		for _, i := range idx {
			e := events[i]
			n := envelopeSize(&e)
			if len(part) > 0 && size+n > MaxMessageBytes {
				m, err := EventsMessage(part)
				if err != nil {
					return nil, err
				}
				msgs = append(msgs, m)
				part, size = part[len(part):], 0
			}
			part = append(part, e)
			size += n
		}
		m, err := EventsMessage(part)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// messageSpace derives the UUID of a message of several events.
var messageSpace = uuid.MustParse("5d1f7a52-8a8e-4a43-9d0e-6b1f1c1d7e20")

// EventsMessage wraps consecutive stored events of one tenant (in seq order) in a Watermill
// message. Its UUID is the event id for one event, and otherwise derived from the tenant
// and the seq range, so a batch published again after a relay restart carries the same id
// (a bus that de-duplicates by message id, like JetStream, drops it).
func EventsMessage(events []Event) (*message.Message, error) {
	if len(events) == 0 {
		return nil, errors.New("a relayed message needs at least one event")
	}
	first, last := &events[0], &events[len(events)-1]
	var types []string
	size := 2
	for i := range events {
		size += envelopeSize(&events[i])
	}
	var body bytes.Buffer
	body.Grow(size)
	body.WriteByte('[')
	for i := range events {
		e := &events[i]
		if e.TenantID != first.TenantID {
			return nil, fmt.Errorf("a relayed message holds one tenant's events, not %s and %s", first.TenantID, e.TenantID)
		}
		if i > 0 {
			body.WriteByte(',')
		}
		if err := writeEnvelope(&body, e); err != nil {
			return nil, fmt.Errorf("relay event %s seq %d: %w", e.TenantID, e.Seq, err)
		}
		if !slices.Contains(types, e.Type) {
			types = append(types, e.Type)
		}
	}
	body.WriteByte(']')
	id := first.ID
	if len(events) > 1 {
		id = uuid.NewSHA1(messageSpace, fmt.Appendf(nil, "%s/%d/%d", first.TenantID, first.Seq, last.Seq))
	}
	tenant := first.TenantID.String()
	m := message.NewMessage(id.String(), body.Bytes())
	m.Metadata = message.Metadata{
		MetaTenantID:     tenant,
		MetaFirstSeq:     strconv.FormatInt(first.Seq, 10),
		MetaSeq:          strconv.FormatInt(last.Seq, 10),
		MetaTypes:        strings.Join(types, ","),
		MetaPartitionKey: tenant,
	}
	return m, nil
}

// envelopeSize is about the size of e's envelope (and a separator): the fields' lengths
// and the fixed part (keys, ids, numbers, time and hash, about 300 bytes).
func envelopeSize(e *Event) int {
	return len(e.Data) + len(e.Metadata) + len(e.StreamID) + len(e.Type) + 320
}

// writeEnvelope writes e as an Envelope in JSON without reflection (the relay writes one per
// event): as json.Marshal would, except that data and metadata keep their stored bytes.
func writeEnvelope(b *bytes.Buffer, e *Event) error {
	var num [20]byte
	b.WriteString(`{"tenant_id":"`)
	b.WriteString(e.TenantID.String())
	b.WriteString(`","seq":`)
	b.Write(strconv.AppendInt(num[:0], e.Seq, 10))
	b.WriteString(`,"stream_id":`)
	writeJSONString(b, e.StreamID)
	b.WriteString(`,"stream_version":`)
	b.Write(strconv.AppendInt(num[:0], e.StreamVersion, 10))
	b.WriteString(`,"event_id":"`)
	b.WriteString(e.ID.String())
	b.WriteString(`","event_type":`)
	writeJSONString(b, e.Type)
	b.WriteString(`,"schema_version":`)
	b.Write(strconv.AppendInt(num[:0], int64(e.SchemaVersion), 10))
	// Data and metadata go as stored: jsonb text, valid JSON by construction, and the exact
	// bytes the hash chain covers.
	if !json.Valid(e.Data) || !json.Valid(e.Metadata) {
		return errors.New("data or metadata is not JSON")
	}
	b.WriteString(`,"data":`)
	b.Write(e.Data)
	b.WriteString(`,"metadata":`)
	b.Write(e.Metadata)
	at, err := e.RecordedAt.MarshalJSON()
	if err != nil {
		return err
	}
	b.WriteString(`,"recorded_at":`)
	b.Write(at)
	b.WriteString(`,"hash":"`)
	var h [64]byte
	hex.Encode(h[:], e.Hash[:])
	b.Write(h[:])
	b.WriteString(`"}`)
	return nil
}

// writeJSONString writes s as a JSON string; plain ASCII goes as it is.
func writeJSONString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			b.Write(q)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// MessageHasType says, from the metadata alone, whether a relayed message carries an event
// whose type satisfies want: consumers skip the others without decoding them.
func MessageHasType(m *message.Message, want func(eventType string) bool) bool {
	types, ok := m.Metadata[MetaTypes]
	if !ok { // a message of one event from a relay before per-tenant batches
		types = m.Metadata.Get(metaLegacyType)
	}
	for t := range strings.SplitSeq(types, ",") {
		if want(t) {
			return true
		}
	}
	return false
}

// NoteTenants consumes relayed messages until ctx ends or msgs closes, calling note with
// the tenant of each message that carries an event whose type satisfies want, and
// acknowledging every message at once: for consumers that only note which tenants to look
// at (the in-process bus waits for every subscriber, so none may hold it up with work).
func NoteTenants(ctx context.Context, msgs <-chan *message.Message, want func(eventType string) bool, note func(tenant uuid.UUID)) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if MessageHasType(m, want) {
				if id, err := uuid.Parse(m.Metadata.Get(MetaTenantID)); err == nil {
					note(id)
				}
			}
			m.Ack()
		}
	}
}

// EventsFromMessage reads back the events a relayed message carries, without their previous
// hashes and global positions (the envelope does not hold them); data and metadata are the
// stored bytes.
func EventsFromMessage(m *message.Message) ([]Event, error) {
	var envs []Envelope
	if p := bytes.TrimLeft(m.Payload, " \t\r\n"); len(p) > 0 && p[0] == '{' {
		// One event as an object: what a relay before per-tenant batches published, still
		// on the bus while a cluster is upgraded.
		envs = make([]Envelope, 1)
		if err := json.Unmarshal(p, &envs[0]); err != nil {
			return nil, fmt.Errorf("relayed message %s: %w", m.UUID, err)
		}
	} else if err := json.Unmarshal(m.Payload, &envs); err != nil {
		return nil, fmt.Errorf("relayed message %s: %w", m.UUID, err)
	}
	if len(envs) == 0 {
		return nil, fmt.Errorf("relayed message %s carries no event", m.UUID)
	}
	out := make([]Event, len(envs))
	for i, env := range envs {
		tenant, err := uuid.Parse(env.TenantID)
		if err != nil {
			return nil, fmt.Errorf("relayed message %s: tenant id: %w", m.UUID, err)
		}
		id, err := uuid.Parse(env.EventID)
		if err != nil {
			return nil, fmt.Errorf("relayed message %s: event id: %w", m.UUID, err)
		}
		e := Event{TenantID: tenant, Seq: env.Seq, StreamID: env.StreamID, StreamVersion: env.StreamVersion, ID: id,
			Type: env.Type, SchemaVersion: env.SchemaVersion, Data: env.Data, Metadata: env.Metadata, RecordedAt: env.RecordedAt}
		if h, err := hex.DecodeString(env.Hash); err == nil && len(h) == len(e.Hash) {
			copy(e.Hash[:], h)
		}
		out[i] = e
	}
	return out, nil
}

// LoadCursor returns a named cursor (the beginning when it was never saved).
func LoadCursor(ctx context.Context, pool *pgxpool.Pool, name string) (GlobalCursor, error) {
	var c GlobalCursor
	err := pool.QueryRow(ctx, `SELECT tx_id, position FROM tenantry.cursors WHERE name = $1`, name).Scan(&c.TxID, &c.Position)
	if errors.Is(err, pgx.ErrNoRows) {
		return GlobalCursor{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("load cursor %q: %w", name, err)
	}
	return c, nil
}

// SaveCursor stores a named cursor; it never moves a cursor backwards.
func SaveCursor(ctx context.Context, pool *pgxpool.Pool, name string, c GlobalCursor) error {
	// The save commits without waiting for its WAL flush: a crash can only move the cursor
	// back a little, and delivery is at least once anyway.
	_, err := pool.Exec(ctx, `INSERT INTO tenantry.cursors AS c (name, tx_id, position, updated_at)
		SELECT $1, $2, $3, now() FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
		ON CONFLICT (name) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position, updated_at = now()
		WHERE (c.tx_id, c.position) < (excluded.tx_id, excluded.position)`, name, c.TxID, c.Position)
	if err != nil {
		return fmt.Errorf("save cursor %q: %w", name, err)
	}
	return nil
}

// listen holds one connection LISTENing on NotifyChannel and calls on (from its own
// goroutine) with each notification's payload, except this process's own when ignore is
// set, and with "" each time it starts listening (what was appended while it was not is
// then looked for); it reconnects after errors until ctx ends.
func listen(ctx context.Context, pool *pgxpool.Pool, on func(payload string), ignore bool, log *slog.Logger) {
	for ctx.Err() == nil {
		err := func() error {
			pooled, err := pool.Acquire(ctx)
			if err != nil {
				return err
			}
			// The connection carries LISTEN state: never hand it back to the pool.
			conn := pooled.Hijack()
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
				return err
			}
			on("")
			for {
				n, err := conn.WaitForNotification(ctx)
				if err != nil {
					return err
				}
				if ignore && ownNotification(n.Payload) {
					continue
				}
				on(n.Payload)
			}
		}()
		if ctx.Err() != nil {
			return
		}
		log.Warn("event listener lost its connection; polling until it is back", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// signal returns a listen callback that signals c, coalesced.
func signal(c chan<- struct{}) func(string) {
	return func(string) {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
