package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// collector subscribes to a GoChannel topic and records what arrives, per tenant.
type collector struct {
	mu   sync.Mutex
	seen map[uuid.UUID][]int64
	msgs int
}

func collect(t *testing.T, ctx context.Context, ps *gochannel.GoChannel, topic string) *collector {
	c := &collector{seen: map[uuid.UUID][]int64{}}
	ch, err := ps.Subscribe(ctx, topic)
	require.NoError(t, err)
	go func() {
		for m := range ch {
			var envs []eventstore.Envelope
			if json.Unmarshal(m.Payload, &envs) == nil && len(envs) > 0 {
				id := uuid.MustParse(m.Metadata.Get(eventstore.MetaTenantID))
				first, _ := strconv.ParseInt(m.Metadata.Get(eventstore.MetaFirstSeq), 10, 64)
				last, _ := strconv.ParseInt(m.Metadata.Get(eventstore.MetaSeq), 10, 64)
				c.mu.Lock()
				// The metadata agrees with the body: one tenant, its seq range.
				if envs[0].Seq == first && envs[len(envs)-1].Seq == last && m.Metadata.Get(eventstore.MetaPartitionKey) == id.String() {
					for _, env := range envs {
						if env.TenantID == id.String() {
							c.seen[id] = append(c.seen[id], env.Seq)
						}
					}
				}
				c.msgs++
				c.mu.Unlock()
			}
			m.Ack()
		}
	}()
	return c
}

func (c *collector) count(id uuid.UUID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen[id])
}

func (c *collector) seqs(id uuid.UUID) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.seen[id]...)
}

func newPubSub() *gochannel.GoChannel {
	return gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 10000, BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
}

func TestRelay_PublishesEveryEventInOrderAndResumesAfterRestart(t *testing.T) {
	t.Parallel()
	s := workerStore(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := newPubSub()
	topic := "events-" + uuid.NewString()
	got := collect(t, ctx, ps, topic)
	name := "relay-" + uuid.NewString()[:8]
	a, b := newTenant(t), newTenant(t)
	for i := 0; i < 5; i++ {
		_, err := s.Append(ctx, a, "s", eventstore.Any, evs("thing.happened", 3)...)
		require.NoError(t, err)
		_, err = s.Append(ctx, b, "s", eventstore.Any, evs("thing.happened", 2)...)
		require.NoError(t, err)
	}

	runRelay := func(ctx context.Context) chan error {
		done := make(chan error, 1)
		r := &eventstore.Relay{Store: s, Publisher: ps, Topic: topic, Name: name, Logger: slog.New(slog.DiscardHandler),
			PollInterval: 20 * time.Millisecond, BatchSize: 4}
		go func() { done <- r.Run(ctx) }()
		return done
	}
	rctx, stop := context.WithCancel(ctx)
	done := runRelay(rctx)
	require.Eventually(t, func() bool { return got.count(a) == 15 && got.count(b) == 10 }, 60*time.Second, 10*time.Millisecond)
	stop()
	require.NoError(t, <-done)
	for _, id := range []uuid.UUID{a, b} {
		seqs := got.seqs(id)
		for i, seq := range seqs {
			require.Equal(t, int64(i+1), seq, "tenant order is seq order")
		}
	}

	// More events while the relay is down; a new relay with the same name resumes after the
	// saved cursor: nothing is lost and nothing from before is published again.
	_, err := s.Append(ctx, a, "s", eventstore.Any, evs("thing.happened", 2)...)
	require.NoError(t, err)
	done = runRelay(ctx)
	require.Eventually(t, func() bool { return got.count(a) == 17 }, 60*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, 17, got.count(a))
	require.Equal(t, 10, got.count(b))
	require.Equal(t, []int64{16, 17}, got.seqs(a)[15:])
	cancel()
	require.NoError(t, <-done)
}

// A NOTIFY from another process wakes the relay long before its poll interval.
func TestRelay_WakesOnNotify(t *testing.T) {
	t.Parallel()
	s := workerStore(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := newPubSub()
	topic := "events-" + uuid.NewString()
	got := collect(t, ctx, ps, topic)
	r := &eventstore.Relay{Store: s, Publisher: ps, Topic: topic, Name: "relay-" + uuid.NewString()[:8],
		Logger: slog.New(slog.DiscardHandler), PollInterval: time.Hour}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	otherPool := appStore(t, 2).Pool() // another "process"
	notifier := eventstore.NewNotifier(otherPool, 0, slog.New(slog.DiscardHandler))
	other, err := eventstore.NewStore(otherPool, eventstore.StoreConfig{Notifier: notifier})
	require.NoError(t, err)
	go func() { _ = notifier.Run(ctx) }()
	// The relay may not be listening yet on a loaded machine: keep appending until one
	// notification gets through. With an hour-long poll interval, only NOTIFY can wake it.
	tenant := newTenant(t)
	pgtest.Until(t, 60*time.Second, time.Millisecond, func() bool {
		_, err := other.Append(ctx, tenant, "s", eventstore.Any, ev("thing.happened", 1))
		require.NoError(t, err)
		return got.count(tenant) > 0 || waitCount(got, tenant, 200*time.Millisecond)
	})
	cancel()
	require.NoError(t, <-done)
}

var _ message.Publisher = (*gochannel.GoChannel)(nil)

// waitCount waits up to d for the collector to see an event of tenant.
func waitCount(c *collector, tenant uuid.UUID, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if c.count(tenant) > 0 {
			return true
		}
	}
	return false
}

func TestEventsMessage_ReadsBackTheRelayedEvents(t *testing.T) {
	tenant := uuid.New()
	event := func(seq int64, typ, data string) eventstore.Event {
		e := eventstore.Event{TenantID: tenant, Seq: seq, StreamID: "tenant", StreamVersion: seq, ID: uuid.New(), Type: typ,
			SchemaVersion: 1, Data: []byte(data), Metadata: []byte(`{"actor": "a"}`), RecordedAt: time.Now().UTC().Truncate(time.Microsecond)}
		e.Hash[0], e.Hash[31] = byte(seq), 0xcd
		return e
	}
	events := []eventstore.Event{event(7, "tenant.renamed", `{"name": "x"}`), event(8, "usage.recorded", `{"n": 1}`), event(9, "tenant.renamed", `{"name": "y"}`)}
	events[1].StreamID = "usage \"ü\" <&>\u2028" // written as json.Marshal writes it
	m, err := eventstore.EventsMessage(events)
	require.NoError(t, err)
	require.Equal(t, "7", m.Metadata.Get(eventstore.MetaFirstSeq))
	require.Equal(t, "9", m.Metadata.Get(eventstore.MetaSeq))
	require.Equal(t, "tenant.renamed,usage.recorded", m.Metadata.Get(eventstore.MetaTypes))
	require.True(t, eventstore.MessageHasType(m, func(s string) bool { return s == "usage.recorded" }))
	require.False(t, eventstore.MessageHasType(m, func(s string) bool { return s == "tenant.created" }))
	// The body is a JSON array of envelopes; strings are escaped as json.Marshal escapes
	// them, and data and metadata are the stored bytes.
	var envs []eventstore.Envelope
	for _, e := range events {
		envs = append(envs, eventstore.Envelope{TenantID: e.TenantID.String(), Seq: e.Seq, StreamID: e.StreamID, StreamVersion: e.StreamVersion,
			EventID: e.ID.String(), Type: e.Type, SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: e.Metadata,
			RecordedAt: e.RecordedAt, Hash: fmt.Sprintf("%x", e.Hash)})
	}
	var got []eventstore.Envelope
	require.NoError(t, json.Unmarshal(m.Payload, &got))
	require.Equal(t, envs, got)
	stream, _ := json.Marshal(events[1].StreamID)
	require.Contains(t, string(m.Payload), `"stream_id":`+string(stream)+`,`)
	back, err := eventstore.EventsFromMessage(m)
	require.NoError(t, err)
	require.Equal(t, events, back)

	// Data that is not JSON never makes a message.
	bad := append([]eventstore.Event(nil), events...)
	bad[2].Data = []byte(`{"name": `)
	_, err = eventstore.EventsMessage(bad)
	require.Error(t, err)

	// The same range gives the same message id (a de-duplicating bus drops a republished
	// batch); a single event's message is its event id.
	again, err := eventstore.EventsMessage(events)
	require.NoError(t, err)
	require.Equal(t, m.UUID, again.UUID)
	one, err := eventstore.EventsMessage(events[:1])
	require.NoError(t, err)
	require.Equal(t, events[0].ID.String(), one.UUID)

	// One tenant per message; nothing is not a message.
	other := event(10, "tenant.renamed", `{}`)
	other.TenantID = uuid.New()
	_, err = eventstore.EventsMessage([]eventstore.Event{events[0], other})
	require.Error(t, err)
	_, err = eventstore.EventsMessage(nil)
	require.Error(t, err)
	for _, body := range []string{"not json", "[]", `[{"tenant_id": "x"}]`} {
		_, err = eventstore.EventsFromMessage(message.NewMessage("x", []byte(body)))
		require.Error(t, err, body)
	}
}

// A message from a relay before per-tenant batches (one event as an object, its type in
// "event_type") is still read: such messages stay on the bus while a cluster is upgraded.
func TestEventsFromMessage_ReadsTheOneEventFormatToo(t *testing.T) {
	env := eventstore.Envelope{TenantID: uuid.NewString(), Seq: 4, StreamID: "tenant", StreamVersion: 2, EventID: uuid.NewString(),
		Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{"name": "x"}`), Metadata: []byte(`{}`),
		RecordedAt: time.Now().UTC().Truncate(time.Microsecond), Hash: strings.Repeat("ab", 32)}
	body, err := json.Marshal(env)
	require.NoError(t, err)
	m := message.NewMessage(env.EventID, body)
	m.Metadata.Set(eventstore.MetaTenantID, env.TenantID)
	m.Metadata.Set(eventstore.MetaSeq, "4")
	m.Metadata.Set("event_type", env.Type)
	require.True(t, eventstore.MessageHasType(m, func(s string) bool { return s == "tenant.created" }))
	require.False(t, eventstore.MessageHasType(m, func(s string) bool { return s == "usage.recorded" }))
	events, err := eventstore.EventsFromMessage(m)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, int64(4), events[0].Seq)
	require.Equal(t, "tenant.created", events[0].Type)
	require.Equal(t, env.TenantID, events[0].TenantID.String())
	require.Equal(t, byte(0xab), events[0].Hash[31])
	_, err = eventstore.EventsFromMessage(message.NewMessage("x", []byte(`{"tenant_id": 1}`)))
	require.Error(t, err)
}

// TenantMessages splits a batch in global order into per-tenant messages, each tenant's in
// seq order, and a tenant's events over MaxMessageBytes into several messages.
func TestTenantMessages_GroupsByTenantInOrderAndBoundsSize(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	big := []byte(`{"blob": "` + strings.Repeat("x", eventstore.MaxMessageBytes/3) + `"}`)
	var events []eventstore.Event
	for seq := int64(1); seq <= 4; seq++ {
		for _, tenant := range []uuid.UUID{a, b} {
			data := []byte(`{}`)
			if tenant == b {
				data = big
			}
			events = append(events, eventstore.Event{TenantID: tenant, Seq: seq, StreamID: "s", StreamVersion: seq, ID: uuid.New(),
				Type: "x.y", SchemaVersion: 1, Data: data, Metadata: []byte(`{}`)})
		}
	}
	msgs, err := eventstore.TenantMessages(events)
	require.NoError(t, err)
	got := map[string][]int64{}
	for _, m := range msgs {
		require.LessOrEqual(t, len(m.Payload), eventstore.MaxMessageBytes+1024)
		evs, err := eventstore.EventsFromMessage(m)
		require.NoError(t, err)
		for _, e := range evs {
			got[m.Metadata.Get(eventstore.MetaTenantID)] = append(got[m.Metadata.Get(eventstore.MetaTenantID)], e.Seq)
		}
	}
	require.Equal(t, []int64{1, 2, 3, 4}, got[a.String()])
	require.Equal(t, []int64{1, 2, 3, 4}, got[b.String()])
	require.Len(t, msgs, 1+2, "a's four small events in one message, b's four large ones in two")
}

// With Lease, one relay is active among several; when the active one's lease connection
// dies (its process crashed), another takes over within seconds, from the saved cursor:
// no event is skipped.
func TestRelay_LeaseKeepsOneActiveAndFailsOver(t *testing.T) {
	s := workerStore(t, 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := newPubSub()
	topic := "events-" + uuid.NewString()
	got := collect(t, ctx, ps, topic)
	name := "relay-" + uuid.NewString()[:8]
	var active [2]atomic.Int64
	newRelay := func(i int) *eventstore.Relay {
		return &eventstore.Relay{Store: s, Publisher: ps, Topic: topic, Name: name, Logger: slog.New(slog.DiscardHandler),
			PollInterval: 20 * time.Millisecond, Lease: true,
			Observe: func(n int, _ time.Time) { active[i].Add(int64(n)) }}
	}
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		r := newRelay(i)
		go func() { done <- r.Run(ctx) }()
	}
	tenant := newTenant(t)
	_, err := s.Append(ctx, tenant, "s", eventstore.Any, evs("thing.happened", 3)...)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return got.count(tenant) == 3 }, 60*time.Second, 10*time.Millisecond)
	// Observe runs after a batch is published, so it may trail the subscriber: wait for the
	// leader's count before naming it (a count still at zero named the wrong relay leader).
	require.Eventually(t, func() bool { return active[0].Load()+active[1].Load() >= 3 }, 10*time.Second, 10*time.Millisecond)
	leader := 0
	if active[1].Load() > 0 {
		leader = 1
	}
	require.Zero(t, active[1-leader].Load(), "only the lease holder relays")

	// The leader's lease connection dies, as when its process is killed.
	super := superPool(t)
	_, err = super.Exec(ctx, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.classid = 7365712 AND l.objsubid = 2 AND l.granted AND l.database =
		(SELECT oid FROM pg_database WHERE datname = current_database())`)
	require.NoError(t, err)
	start := time.Now()
	appended := int64(3)
	// The README promises a takeover within about a second (the waiting relays try the
	// lease once a second); 3 s leaves room for a loaded machine.
	const failover = 3 * time.Second
	for active[1-leader].Load() == 0 { // keep appending until the other relay publishes
		require.Less(t, time.Since(start), failover, "another relay took over within %v", failover)
		_, err := s.Append(ctx, tenant, "s", eventstore.Any, ev("thing.happened", 1))
		require.NoError(t, err)
		appended++
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the other relay took over %v after the lease holder's connection died", time.Since(start))

	// The old leader notices its lost lease at its next ping of the lease connection (once a
	// second) and stops relaying: from then on only the new leader publishes.
	time.Sleep(time.Until(start.Add(2 * time.Second)))
	oldPublished := active[leader].Load()
	newPublished := active[1-leader].Load()
	for i := 0; i < 5; i++ {
		_, err := s.Append(ctx, tenant, "s", eventstore.Any, ev("thing.happened", 1))
		require.NoError(t, err)
		appended++
	}
	require.Eventually(t, func() bool { return int64(len(dedupe(got.seqs(tenant)))) == appended }, 60*time.Second, 10*time.Millisecond)
	for i, seq := range dedupe(got.seqs(tenant)) {
		require.Equal(t, int64(i+1), seq, "nothing skipped (a batch may come twice)")
	}
	// Observe runs after a batch is published: the count may trail the subscriber briefly.
	require.Eventually(t, func() bool { return active[1-leader].Load() > newPublished }, 10*time.Second, 10*time.Millisecond,
		"the new leader published the last appends")
	require.Equal(t, oldPublished, active[leader].Load(), "the old leader stopped publishing once it lost its lease")
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, <-done)
}

func dedupe(seqs []int64) []int64 {
	var out []int64
	seen := map[int64]bool{}
	for _, s := range seqs {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
