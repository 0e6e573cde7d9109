package projections

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/tenantry/tenantry/eventstore"
)

// EventsTopic is the bus topic the relay publishes every event to.
const EventsTopic = "tenantry.events"

// Pipeline is everything between the event store and the read models in one process: group
// commit and append notifications on the store, the relay onto an in-process bus (a Go
// channel whose publish waits for the projector's acknowledgement, which keeps order and
// gives back-pressure), the projector and the tenant directory, both fed by the relay.
type Pipeline struct {
	Projector *Projector
	Directory *Directory

	store     *eventstore.Store
	notifier  *eventstore.Notifier
	committer *eventstore.GroupCommitter
	relay     *eventstore.Relay
	bus       *gochannel.GoChannel
	log       *slog.Logger
	consumers []func(context.Context, <-chan *message.Message)
}

// Relay is the pipeline's relay, for setting its Observe hook before Run.
func (p *Pipeline) Relay() *eventstore.Relay { return p.relay }

// AddConsumer gives fn its own subscription to the relayed events, from Run until ctx
// ends. fn must acknowledge each message promptly: the relay waits for every subscriber.
// Call it before Run.
func (p *Pipeline) AddConsumer(fn func(context.Context, <-chan *message.Message)) {
	p.consumers = append(p.consumers, fn)
}

// NewPipeline attaches group commit and notifications to store; call Run before appending.
func NewPipeline(store *eventstore.Store, registry *eventstore.Registry, log *slog.Logger) *Pipeline {
	notifier := eventstore.NewNotifier(store.Pool(), 0, log)
	store.SetNotifier(notifier)
	committer := eventstore.NewGroupCommitter(store, 4)
	store.SetGroupCommitter(committer)
	bus := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024, BlockPublishUntilSubscriberAck: true},
		watermill.NewSlogLogger(log))
	return &Pipeline{
		Projector: &Projector{Pool: store.Pool(), Registry: registry, Logger: log.With("component", "projector")},
		Directory: &Directory{Store: store, Registry: registry, Logger: log.With("component", "directory")},
		store:     store, notifier: notifier, committer: committer, bus: bus, log: log,
		relay: &eventstore.Relay{Store: store, Publisher: bus, Topic: EventsTopic, Name: "relay",
			Logger: log.With("component", "relay"), Wake: notifier.Subscribe()},
	}
}

// Run runs every component until ctx ends, then closes the bus and waits for them.
func (p *Pipeline) Run(ctx context.Context) error {
	msgs, err := p.bus.Subscribe(ctx, EventsTopic)
	if err != nil {
		return err
	}
	dirMsgs, err := p.bus.Subscribe(ctx, EventsTopic)
	if err != nil {
		return err
	}
	runs := []func(context.Context) error{p.committer.Run, p.notifier.Run, p.relay.Run, p.Projector.Run,
		func(ctx context.Context) error { p.Projector.Consume(ctx, msgs); return nil },
		func(ctx context.Context) error { p.Directory.Consume(ctx, dirMsgs); return nil }}
	for _, consume := range p.consumers {
		sub, err := p.bus.Subscribe(ctx, EventsTopic)
		if err != nil {
			return err
		}
		runs = append(runs, func(ctx context.Context) error { consume(ctx, sub); return nil })
	}
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				p.log.Error("background component stopped", "err", err)
			}
		}()
	}
	<-ctx.Done()
	_ = p.bus.Close()
	wg.Wait()
	return nil
}
