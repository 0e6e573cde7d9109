package eventstore_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
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
			var env eventstore.Envelope
			if json.Unmarshal(m.Payload, &env) == nil {
				id := uuid.MustParse(m.Metadata.Get(eventstore.MetaTenantID))
				seq, _ := strconv.ParseInt(m.Metadata.Get(eventstore.MetaSeq), 10, 64)
				c.mu.Lock()
				if env.Seq == seq && m.Metadata.Get(eventstore.MetaPartitionKey) == id.String() {
					c.seen[id] = append(c.seen[id], seq)
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
	s := appStore(t, 4)
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
	s := appStore(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := newPubSub()
	topic := "events-" + uuid.NewString()
	got := collect(t, ctx, ps, topic)
	r := &eventstore.Relay{Store: s, Publisher: ps, Topic: topic, Name: "relay-" + uuid.NewString()[:8],
		Logger: slog.New(slog.DiscardHandler), PollInterval: time.Hour}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	other := appStore(t, 2) // another "process"
	notifier := eventstore.NewNotifier(other.Pool(), 0, slog.New(slog.DiscardHandler))
	other.SetNotifier(notifier)
	go func() { _ = notifier.Run(ctx) }()
	// The relay may not be listening yet on a loaded machine: keep appending until one
	// notification gets through. With an hour-long poll interval, only NOTIFY can wake it.
	tenant := newTenant(t)
	require.Eventually(t, func() bool {
		_, err := other.Append(ctx, tenant, "s", eventstore.Any, ev("thing.happened", 1))
		require.NoError(t, err)
		return got.count(tenant) > 0 || waitCount(got, tenant, 200*time.Millisecond)
	}, 60*time.Second, time.Millisecond)
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

func TestEventFromMessage_ReadsBackTheRelayedEvent(t *testing.T) {
	e := eventstore.Event{TenantID: uuid.New(), Seq: 7, StreamID: "tenant", StreamVersion: 3, ID: uuid.New(), Type: "tenant.renamed",
		SchemaVersion: 1, Data: []byte(`{"name": "x"}`), Metadata: []byte(`{"actor": "a"}`), RecordedAt: time.Now().UTC().Truncate(time.Microsecond)}
	e.Hash[0], e.Hash[31] = 0xab, 0xcd
	m, err := eventstore.EventMessage(&e)
	require.NoError(t, err)
	back, err := eventstore.EventFromMessage(m)
	require.NoError(t, err)
	// The envelope carries data and metadata as JSON values, compacted.
	e.Data, e.Metadata = []byte(`{"name":"x"}`), []byte(`{"actor":"a"}`)
	require.Equal(t, e, back)
	_, err = eventstore.EventFromMessage(message.NewMessage("x", []byte("not json")))
	require.Error(t, err)
}

// With Lease, one relay is active among several; when the active one's lease connection
// dies (its process crashed), another takes over within seconds, from the saved cursor:
// no event is skipped.
func TestRelay_LeaseKeepsOneActiveAndFailsOver(t *testing.T) {
	s := appStore(t, 6)
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
	require.Eventually(t, func() bool { // keep appending until the other relay publishes
		_, err := s.Append(ctx, tenant, "s", eventstore.Any, ev("thing.happened", 1))
		require.NoError(t, err)
		appended++
		return active[1-leader].Load() > 0
	}, 60*time.Second, 50*time.Millisecond)
	t.Logf("the other relay took over %v after the lease holder's connection died", time.Since(start))
	require.Less(t, time.Since(start), 10*time.Second, "another relay took over within seconds")
	require.Eventually(t, func() bool { return int64(len(dedupe(got.seqs(tenant)))) == appended }, 60*time.Second, 10*time.Millisecond)
	for i, seq := range dedupe(got.seqs(tenant)) {
		require.Equal(t, int64(i+1), seq, "nothing skipped (a batch may come twice)")
	}
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
