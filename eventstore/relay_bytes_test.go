package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// bigEvent is an event whose data is a random (incompressible) string of n bytes.
func bigEvent(n int) eventstore.NewEvent {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = alphabet[rand.IntN(len(alphabet))]
	}
	e := ev("thing.happened", 0)
	e.Data, _ = json.Marshal(map[string]string{"blob": string(buf)})
	return e
}

// publishSizes is a publisher that records, for each Publish, how many events of tenant it
// carried and the documents (data and metadata) of all its events, before passing it on.
type publishSizes struct {
	message.Publisher
	tenant string
	mu     sync.Mutex
	events []int // per Publish, the tenant's events
	bytes  []int // per Publish, every event's documents
}

func (p *publishSizes) Publish(topic string, msgs ...*message.Message) error {
	mine, size := 0, 0
	for _, m := range msgs {
		events, err := eventstore.EventsFromMessage(m)
		if err != nil {
			return err
		}
		for _, e := range events {
			size += len(e.Data) + len(e.Metadata)
			if e.TenantID.String() == p.tenant {
				mine++
			}
		}
	}
	p.mu.Lock()
	if mine > 0 {
		p.events = append(p.events, mine)
		p.bytes = append(p.bytes, size)
	}
	p.mu.Unlock()
	return p.Publisher.Publish(topic, msgs...)
}

// A run of large events is relayed in several publishes, each within the relay's byte
// bound (a publish holds one event more only if that one alone passes it), and every event
// still arrives exactly once, in order.
func TestRelay_BoundsEachPublishInBytes(t *testing.T) {
	t.Parallel()
	s := workerStore(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := newPubSub()
	topic := "events-" + uuid.NewString()
	got := collect(t, ctx, ps, topic)
	a := newTenant(t)
	const events, eventBytes, budget = 12, 300_000, 1 << 20
	for range events {
		_, err := s.Append(ctx, a, "s", eventstore.Any, bigEvent(eventBytes))
		require.NoError(t, err)
	}

	pub := &publishSizes{Publisher: ps, tenant: a.String()}
	r := &eventstore.Relay{Store: s, Publisher: pub, Topic: topic, Name: "relay-" + uuid.NewString()[:8],
		Logger: slog.New(slog.DiscardHandler), PollInterval: 20 * time.Millisecond, BatchBytes: budget}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return got.count(a) == events }, 60*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	seqs := got.seqs(a)
	require.Len(t, seqs, events, "every event exactly once")
	for i, seq := range seqs {
		require.Equal(t, int64(i+1), seq, "tenant order is seq order")
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	perPublish := budget / eventBytes // events of eventBytes that fit the bound
	require.GreaterOrEqual(t, len(pub.events), events/perPublish, "several publishes: %v", pub.events)
	for i, n := range pub.events {
		require.LessOrEqual(t, n, perPublish, "publish %d carries %d large events (%v)", i, n, pub.events)
		if n > 1 {
			require.LessOrEqual(t, pub.bytes[i], budget, fmt.Sprintf("publish %d of %d events", i, n))
		}
	}
}
