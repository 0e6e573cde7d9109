package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/eventstore"
)

// EventsTopic is the bus topic (and NATS subject) the relay publishes every event to.
const EventsTopic = "tenantry.events"

// PipelineConfig is what a Pipeline is built from; NewPipeline checks and defaults it once.
// The zero value of the options is everything in one process on an in-process bus.
type PipelineConfig struct {
	// Store is the pipeline's store: the relay reads and the directory writes through it.
	Store    *eventstore.Store
	Registry *eventstore.Registry
	Logger   *slog.Logger // default: discard
	// Notifier is the one the process's stores announce their appends with
	// (eventstore.StoreConfig.Notifier): the pipeline runs it and wakes its relay with it.
	// Nil: the relay wakes only on other processes' NOTIFYs and by polling.
	Notifier *eventstore.Notifier
	// Appenders are the process's other stores, on pools of another role (serve's API store
	// runs as tenantry_app while the pipeline's runs as tenantry_worker). The pipeline runs
	// the group committer of Store and of each of them that has one.
	Appenders []*eventstore.Store
	// Bus carries events between relay and consumers; nil means an in-process Go channel.
	Bus Bus
	// NoRelay, NoProjector and NoDirectory leave those parts to other processes (an API
	// replica runs none of them; it only appends and notifies).
	NoRelay, NoProjector, NoDirectory bool
	// RelayLease makes the relay run only while it holds the cluster-wide relay lease, so
	// that one relay is active however many processes run one.
	RelayLease bool
	// Consumers get a subscription to the relayed events each, as a member of their group,
	// from Run until its ctx ends. Each must acknowledge every message promptly: the
	// in-process bus waits for every subscriber.
	Consumers []Consumer
	// ObserveRelay, when set, is told after each published batch (eventstore.Relay.Observe).
	ObserveRelay func(events int, newest time.Time)
	// ObserveProjector, when set, is told of every projected batch (Projector.Observe).
	ObserveProjector func(tenant uuid.UUID, events int, newest time.Time)
	// Modules are the product modules whose projections the projector runs beside
	// Tenantry's (Projector.Modules); their event types must be registered in Registry
	// (module.Register). NewPipeline refuses a set module.Check refuses.
	Modules []module.Module
	// Webhooks runs the webhooks projection (Projector.Webhooks), which queues outbound
	// webhook deliveries from the event stream.
	Webhooks bool
}

// Pipeline is everything between the event store and the read models in a process: it runs
// the stores' group committers and the append notifier it is given, the relay onto the bus,
// and the consumers fed by the bus (projector, tenant directory, and
// PipelineConfig.Consumers).
type Pipeline struct {
	Projector *Projector
	Directory *Directory

	cfg        PipelineConfig
	committers []*eventstore.GroupCommitter
	relay      *eventstore.Relay
	bus        Bus
	log        *slog.Logger
}

// Consumer is a bus subscriber the pipeline runs (PipelineConfig.Consumers).
type Consumer struct {
	Group string
	Fn    func(context.Context, <-chan *message.Message)
}

// NewPipeline builds a pipeline from cfg; call Run before appending to a store with a group
// committer (its appends wait for the committer to run).
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Store == nil || cfg.Registry == nil {
		return nil, errors.New("new pipeline: Store and Registry are required")
	}
	if err := module.Check(cfg.Modules); err != nil {
		return nil, fmt.Errorf("new pipeline: product modules: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var committers []*eventstore.GroupCommitter
	for _, s := range append([]*eventstore.Store{cfg.Store}, cfg.Appenders...) {
		if g := s.GroupCommitter(); g != nil {
			committers = append(committers, g)
		}
	}
	bus := cfg.Bus
	if bus == nil {
		bus = NewGoChannelBus(log)
	}
	var wake <-chan struct{}
	if cfg.Notifier != nil {
		wake = cfg.Notifier.Subscribe()
	}
	return &Pipeline{
		Projector: &Projector{Store: cfg.Store, Registry: cfg.Registry, Logger: log.With("component", "projector"),
			Observe: cfg.ObserveProjector, Modules: slices.Clone(cfg.Modules), Webhooks: cfg.Webhooks},
		Directory: &Directory{Store: cfg.Store, Registry: cfg.Registry, Logger: log.With("component", "directory")},
		cfg:       cfg, committers: committers, bus: bus, log: log,
		relay: &eventstore.Relay{Store: cfg.Store, Publisher: bus.Publisher(), Topic: bus.Topic(), Name: "relay",
			Logger: log.With("component", "relay"), Wake: wake, Lease: cfg.RelayLease, Observe: cfg.ObserveRelay},
	}, nil
}

// Run runs every component until ctx ends, then closes the bus and waits for them.
func (p *Pipeline) Run(ctx context.Context) error {
	var runs []func(context.Context) error
	if p.cfg.Notifier != nil {
		runs = append(runs, p.cfg.Notifier.Run)
	}
	for _, c := range p.committers {
		runs = append(runs, c.Run)
	}
	consumers := slices.Clone(p.cfg.Consumers)
	if !p.cfg.NoProjector {
		runs = append(runs, p.Projector.Run)
		consumers = append(consumers, Consumer{"projector", p.Projector.Consume})
	}
	if !p.cfg.NoDirectory {
		consumers = append(consumers, Consumer{"directory", p.Directory.Consume})
	}
	for _, c := range consumers {
		msgs, err := p.bus.Subscribe(ctx, c.Group)
		if err != nil {
			return err
		}
		runs = append(runs, func(ctx context.Context) error { c.Fn(ctx, msgs); return nil })
	}
	if !p.cfg.NoRelay { // after the subscriptions: nothing published before them is lost
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
