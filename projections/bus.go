package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/nats-io/nats.go"

	"github.com/tenantry/tenantry/migrations"
)

// Bus carries relayed events from the relay to the consumers (projector, directory, billing
// worker). Each consumer group gets every event; when a group has members in several
// processes, each event goes to one of them.
type Bus interface {
	// Topic is where the relay publishes.
	Topic() string
	Publisher() message.Publisher
	// Subscribe joins group and returns its messages until ctx ends.
	Subscribe(ctx context.Context, group string) (<-chan *message.Message, error)
	Close() error
}

// goChannelBus is the in-process bus: a Go channel whose publish waits for every
// subscriber's acknowledgement, which keeps order and gives back-pressure.
type goChannelBus struct{ ch *gochannel.GoChannel }

// NewGoChannelBus returns the bus of a single process.
func NewGoChannelBus(log *slog.Logger) Bus {
	return &goChannelBus{ch: gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024, BlockPublishUntilSubscriberAck: true},
		busLogger(log))}
}

func (b *goChannelBus) Topic() string                { return EventsTopic }
func (b *goChannelBus) Publisher() message.Publisher { return b.ch }
func (b *goChannelBus) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	return b.ch.Subscribe(ctx, EventsTopic)
}
func (b *goChannelBus) Close() error { return b.ch.Close() }

// NATSRetention is how long the JetStream stream keeps relayed events (PostgreSQL keeps
// them for good; the stream only carries them).
const NATSRetention = 24 * time.Hour

// natsBus carries events over NATS JetStream between processes. The relay publishes each
// event with its event id as the message id (JetStream drops a republished duplicate within
// its window); each consumer group is a durable queue subscription, so a group's members
// share the events and one that dies leaves its unacknowledged events to the others.
type natsBus struct {
	cluster string
	url     string
	log     watermill.LoggerAdapter
	pub     *wmnats.Publisher
	subs    []*wmnats.Subscriber
	opts    []nats.Option
}

// NewNATSBus connects to NATS at url and makes sure the events stream of cluster exists.
// cluster (TENANTRY_CLUSTER, e.g. "tenantry") names the subject "<cluster>.events", the
// stream "<CLUSTER>_EVENTS" and the consumer groups, so that several Tenantry deployments
// (or test runs) can share one NATS server.
func NewNATSBus(url, cluster, name string, log *slog.Logger) (Bus, error) {
	if !clusterName.MatchString(cluster) {
		return nil, fmt.Errorf("cluster name %q: want 1 to 40 lowercase letters, digits and hyphens", cluster)
	}
	opts := []nats.Option{nats.Name(name), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", migrations.RedactURL(url), err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("NATS JetStream: %w", err)
	}
	stream := strings.ToUpper(strings.ReplaceAll(cluster, "-", "_")) + "_EVENTS"
	cfg := &nats.StreamConfig{Name: stream, Subjects: []string{cluster + ".events"}, MaxAge: NATSRetention,
		Duplicates: 2 * time.Minute, Storage: nats.FileStorage}
	if _, err := js.AddStream(cfg); err != nil && !errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		// Processes starting together race to create it: the loser may be told that the
		// subjects overlap (with the stream the winner just made) rather than that the name
		// is taken. The stream being there is all that matters.
		if _, ierr := js.StreamInfo(stream); ierr != nil {
			return nil, fmt.Errorf("create the NATS stream %s: %w", stream, err)
		}
	}
	wl := busLogger(log)
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: url, NatsOptions: opts,
		JetStream: wmnats.JetStreamConfig{TrackMsgId: true}}, wl)
	if err != nil {
		return nil, fmt.Errorf("NATS publisher: %w", err)
	}
	return &natsBus{cluster: cluster, url: url, log: wl, pub: pub, opts: opts}, nil
}

var clusterName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

func (b *natsBus) Topic() string                { return b.cluster + ".events" }
func (b *natsBus) Publisher() message.Publisher { return b.pub }

func (b *natsBus) Subscribe(ctx context.Context, group string) (<-chan *message.Message, error) {
	group = b.cluster + "-" + group
	sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL: b.url, NatsOptions: b.opts, QueueGroupPrefix: group, SubscribersCount: 1,
		AckWaitTimeout: 30 * time.Second, CloseTimeout: 5 * time.Second,
		JetStream: wmnats.JetStreamConfig{DurablePrefix: group,
			SubscribeOptions: []nats.SubOpt{nats.AckExplicit(), nats.AckWait(5 * time.Second), nats.MaxAckPending(4096)}},
	}, b.log)
	if err != nil {
		return nil, fmt.Errorf("NATS subscriber %s: %w", group, err)
	}
	b.subs = append(b.subs, sub)
	return sub.Subscribe(ctx, b.Topic())
}

func (b *natsBus) Close() error {
	var errs []error
	for _, s := range b.subs {
		errs = append(errs, s.Close())
	}
	errs = append(errs, b.pub.Close())
	return errors.Join(errs...)
}

// busLogger adapts log for Watermill, dropping its per-message debug and trace lines before
// they are built when log would discard them anyway (Watermill's own adapter builds every
// line's attributes first: an allocation per message per subscriber).
func busLogger(log *slog.Logger) watermill.LoggerAdapter {
	return quietLogger{LoggerAdapter: watermill.NewSlogLogger(log), log: log}
}

type quietLogger struct {
	watermill.LoggerAdapter
	log *slog.Logger
}

func (q quietLogger) Debug(msg string, fields watermill.LogFields) {
	if q.log.Enabled(context.Background(), slog.LevelDebug) {
		q.LoggerAdapter.Debug(msg, fields)
	}
}

func (q quietLogger) Trace(msg string, fields watermill.LogFields) {
	if q.log.Enabled(context.Background(), watermill.LevelTrace) {
		q.LoggerAdapter.Trace(msg, fields)
	}
}

func (q quietLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietLogger{LoggerAdapter: q.LoggerAdapter.With(fields), log: q.log}
}
