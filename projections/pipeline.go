package projections

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tenantry/tenantry/eventstore"
)

// EventsTopic is the bus topic (and NATS subject) the relay publishes every event to.
const EventsTopic = "tenantry.events"

// PipelineOptions choose the bus and which parts run in this process. The zero value is
// everything in one process on an in-process bus.
type PipelineOptions struct {
	// Bus carries events between relay and consumers; nil means an in-process Go channel.
	Bus Bus
	// NoRelay, NoProjector and NoDirectory leave those parts to other processes (an API
	// replica runs none of them; it only appends and notifies).
	NoRelay, NoProjector, NoDirectory bool
	// RelayLease makes the relay run only while it holds the cluster-wide relay lease, so
	// that one relay is active however many processes run one.
	RelayLease bool
	// Appenders are the process's other stores, on pools of another role (serve's API store
	// runs as tenantry_app while the pipeline's runs as tenantry_worker): their appends get
	// group commit too, and wake this process's relay like the pipeline store's own.
	Appenders []*eventstore.Store
}

// Pipeline is everything between the event store and the read models in a process: group
// commit and append notifications on the store, the relay onto the bus, and the consumers
// fed by the bus (projector, tenant directory, and any added with AddConsumer).
type Pipeline struct {
	Projector *Projector
	Directory *Directory

	opts      PipelineOptions
	store     *eventstore.Store
	notifier  *eventstore.Notifier
	committer *eventstore.GroupCommitter
	others    []*eventstore.GroupCommitter // the Appenders' committers
	relay     *eventstore.Relay
	bus       Bus
	log       *slog.Logger
	consumers []consumer
}

type consumer struct {
	group string
	fn    func(context.Context, <-chan *message.Message)
}

// NewPipeline attaches group commit and notifications to store, with everything in one
// process; call Run before appending.
func NewPipeline(store *eventstore.Store, registry *eventstore.Registry, log *slog.Logger) *Pipeline {
	return NewPipelineWith(store, registry, log, PipelineOptions{})
}

// NewPipelineWith is NewPipeline with a bus and roles.
func NewPipelineWith(store *eventstore.Store, registry *eventstore.Registry, log *slog.Logger, opts PipelineOptions) *Pipeline {
	notifier := eventstore.NewNotifier(store.Pool(), 0, log)
	store.SetNotifier(notifier)
	committer := eventstore.NewGroupCommitter(store, 4)
	store.SetGroupCommitter(committer)
	var others []*eventstore.GroupCommitter
	for _, s := range opts.Appenders {
		s.SetNotifier(notifier)
		c := eventstore.NewGroupCommitter(s, 4)
		s.SetGroupCommitter(c)
		others = append(others, c)
	}
	bus := opts.Bus
	if bus == nil {
		bus = NewGoChannelBus(log)
	}
	return &Pipeline{
		others:    others,
		Projector: &Projector{Store: store, Registry: registry, Logger: log.With("component", "projector")},
		Directory: &Directory{Store: store, Registry: registry, Logger: log.With("component", "directory")},
		opts:      opts, store: store, notifier: notifier, committer: committer, bus: bus, log: log,
		relay: &eventstore.Relay{Store: store, Publisher: bus.Publisher(), Topic: bus.Topic(), Name: "relay",
			Logger: log.With("component", "relay"), Wake: notifier.Subscribe(), Lease: opts.RelayLease},
	}
}

// Relay is the pipeline's relay, for setting its Observe hook before Run.
func (p *Pipeline) Relay() *eventstore.Relay { return p.relay }

// AddConsumer gives fn its own subscription to the relayed events, as a member of group,
// from Run until ctx ends. fn must acknowledge each message promptly: the in-process bus
// waits for every subscriber. Call it before Run.
func (p *Pipeline) AddConsumer(group string, fn func(context.Context, <-chan *message.Message)) {
	p.consumers = append(p.consumers, consumer{group, fn})
}

// Run runs every component until ctx ends, then closes the bus and waits for them.
func (p *Pipeline) Run(ctx context.Context) error {
	runs := []func(context.Context) error{p.committer.Run, p.notifier.Run}
	for _, c := range p.others {
		runs = append(runs, c.Run)
	}
	consumers := p.consumers
	if !p.opts.NoProjector {
		runs = append(runs, p.Projector.Run)
		consumers = append(consumers, consumer{"projector", p.Projector.Consume})
	}
	if !p.opts.NoDirectory {
		consumers = append(consumers, consumer{"directory", p.Directory.Consume})
	}
	for _, c := range consumers {
		msgs, err := p.bus.Subscribe(ctx, c.group)
		if err != nil {
			return err
		}
		runs = append(runs, func(ctx context.Context) error { c.fn(ctx, msgs); return nil })
	}
	if !p.opts.NoRelay { // after the subscriptions: nothing published before them is lost
		runs = append(runs, p.relay.Run)
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
