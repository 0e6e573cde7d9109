package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	usecases "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/product"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
	"github.com/tenantry/tenantry/workers/quotas"
	"github.com/tenantry/tenantry/workers/webhooks"
)

// roles are the parts a process runs: serve runs them all; api, projector and worker one
// each, as replicas that share PostgreSQL and NATS.
type roles struct {
	API       bool // the HTTP API
	Projector bool // the relay (one active cluster-wide), the projector and the tenant directory
	Worker    bool // the billing worker and the head signer
}

func (r roles) all() bool { return r.API && r.Projector && r.Worker }

// process is one tenantry process, the composition root: newProcess builds every component its
// roles need once, from the one validated Config, handing each its dependencies and its
// settings at construction; Run runs them until ctx ends and drains them (HTTP first, then
// the bus with its producers and consumers); Close then releases the pools. Nothing is
// attached to a component after it is built.
type process struct {
	cfg   Config
	log   *slog.Logger
	roles roles

	registry    *eventstore.Registry
	modules     []module.Module      // the products' modules
	notifier    *eventstore.Notifier // announces both stores' appends
	appStore    *eventstore.Store    // tenantry_app: the API; nil without it
	workerStore *eventstore.Store    // tenantry_worker: the cross-tenant machinery; nil without it
	metrics     *processMetrics
	pipeline    *projections.Pipeline
	billing     *billing.Worker        // the billing worker; nil when off (no Stripe key) or not a worker
	signer      *audit.HeadSigner      // nil without a signing key or not a worker
	webhooks    *webhooks.Worker       // outbound webhook deliveries; nil without a webhook key or not a worker
	quotas      *quotas.Worker         // soft quota alerts; nil when not a worker
	catalog     *usecases.PlanCatalog  // the plan catalog in memory
	entitled    *usecases.Entitlements // the API's entitlements in memory; nil without the API
	listener    net.Listener           // the API's
	server      *http.Server           // the API's
	metricsSrv  *http.Server           // a projector or worker replica's own /metrics; nil when unset

	closers []func() // in the order opened; Close runs them backwards
}

// newProcess builds the process for r. On error, whatever it opened is closed again.
func (a *app) newProcess(ctx context.Context, r roles) (_ *process, err error) {
	if !r.all() && a.cfg.Bus != "nats" && (r.API || r.Projector) {
		return nil, errors.New("configuration: running the API or the projector as a process of its own needs TENANTRY_BUS=nats (serve runs everything in one process)")
	}
	m := &process{cfg: a.cfg, log: a.log, roles: r, metrics: newProcessMetrics()}
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	if m.registry, err = a.domainRegistry(); err != nil {
		return nil, err
	}
	m.modules = a.modules()

	// Each part on the pool of its role: the API as tenantry_app, the cross-tenant machinery
	// (relay, projector, directory, billing worker, head signer, janitors) as
	// tenantry_worker. An API replica never opens the worker's pool. Both stores announce
	// their appends through one notifier (on the worker's pool when there is one) and
	// group-commit them with committers the pipeline runs.
	if r.Projector || r.Worker {
		if m.workerStore, err = m.openStore(ctx, a, eventstore.ForWorker); err != nil {
			return nil, err
		}
		m.metrics.observeBacklog(m.workerStore, projectionNames(m.modules)) // the backlog gauges read across tenants
	}
	if r.API {
		if m.appStore, err = m.openStore(ctx, a, eventstore.ForAPI); err != nil {
			return nil, err
		}
	}
	// The plan catalog (plans, prices, metric definitions), folded from its stream before
	// anything reads it and kept current by Run; one per process, shared by the API and the
	// billing worker, on the API's store when there is one.
	catalogStore := m.appStore
	if catalogStore == nil {
		catalogStore = m.workerStore
	}
	m.catalog = a.planCatalog(eventstore.DomainStore{Store: catalogStore, Registry: m.registry})
	if _, err := m.catalog.Fresh(ctx); err != nil {
		return nil, err
	}
	if r.API {
		if m.listener, err = net.Listen("tcp", a.cfg.Addr); err != nil {
			return nil, err
		}
		m.closers = append(m.closers, func() { _ = m.listener.Close() })
	}

	var consumers []projections.Consumer
	if r.Worker {
		worker, werr := a.billingWorker(ctx, m.workerStore, m.registry, m.catalog)
		if werr != nil {
			a.log.Warn("billing worker off", "reason", werr.Error())
		} else {
			m.billing = worker
			consumers = append(consumers, projections.Consumer{Group: "billing", Fn: worker.Consume})
			m.metrics.observeWorker(worker)
		}
		if a.cfg.AuditSigner != nil {
			if m.signer, err = audit.NewHeadSigner(audit.HeadSignerConfig{Store: m.workerStore, Signer: a.cfg.AuditSigner,
				Tenants: projections.ReadModels{Store: m.workerStore}.EachTenant, Interval: a.cfg.AuditHeadInterval,
				Logger: a.log.With("component", "audit"), Claim: a.claimer(m.workerStore)}); err != nil {
				return nil, err
			}
			m.metrics.observeHeadSigner(m.signer)
		}
		ds := eventstore.DomainStore{Store: m.workerStore, Registry: m.registry}
		src := quotas.Source{Store: m.workerStore}
		if m.quotas, err = quotas.New(quotas.Config{Alerts: &usecases.QuotaAlerts{Store: ds, Stored: m.workerStore, Usage: src,
			Tenants: src, Plans: m.catalog}, TenantsOnPlan: m.workerStore.TenantsOnPlan, Sweep: a.cfg.QuotaSweep,
			Logger: a.log.With("component", "quotas")}); err != nil {
			return nil, err
		}
		consumers = append(consumers, projections.Consumer{Group: "quota-alerts", Fn: m.quotas.Consume})
		if a.cfg.Webhooks.Key != nil {
			if m.webhooks, err = webhooks.New(webhooks.Config{Store: m.workerStore, Key: a.cfg.Webhooks.Key,
				AllowPrivate: a.cfg.Webhooks.AllowPrivate, Logger: a.log.With("component", "webhooks")}); err != nil {
				return nil, err
			}
		}
	}
	if r.API {
		// Stripe webhooks are applied by the API, on its own role: they name one tenant,
		// found through the directory, and append inside its context.
		stripeHooks, err := a.stripeDeliveries(m.appStore, m.registry)
		if err != nil {
			return nil, err
		}
		// Entitlements: each tenant's usage in the current period, held in memory and kept
		// current by its event stream (Run sweeps idle tenants and closes their watches).
		m.entitled = usecases.NewEntitlements(httpapi.UsageTotalsSource{Store: m.appStore}, m.catalog, usecases.SystemClock,
			usecases.EntitlementsConfig{MaxTenants: a.cfg.EntitlementTenants, OnError: func(tenant uuid.UUID, err error) {
				a.log.Warn("entitlements refresh failed", "tenant_id", tenant, "err", err)
			}})
		deps := httpapi.Deps{Logger: a.log, Store: m.appStore, Registry: m.registry, Catalog: m.catalog, Entitlements: m.entitled,
			OperatorToken: a.cfg.OperatorToken, IntrospectionToken: a.cfg.IntrospectionToken, BaseDomain: a.cfg.BaseDomain, OpenSignup: a.cfg.OpenSignup,
			StripeWebhookSecret: a.cfg.StripeWebhookSecret, Plans: a.cfg.Plans, BillingSettle: a.cfg.Billing.Settle,
			AuditSigner: a.cfg.AuditSigner, Metrics: m.metrics.reg, Webhooks: stripeHooks.Apply,
			TrustedProxies: a.cfg.TrustedProxies, Timeouts: a.cfg.HTTPTimeouts, Products: a.products,
			WebhookKey: a.cfg.Webhooks.Key, WebhookAllowHTTP: a.cfg.Webhooks.AllowHTTP, Definitions: m.catalog}
		if a.cfg.RedisURL != "" {
			if deps.SharedLimits, err = httpapi.NewRedisLimits(a.cfg.RedisURL); err != nil {
				return nil, err
			}
		}
		// Read, write and idle timeouts, header size limit; products that cannot be served
		// (httpapi.CheckProducts) are a configuration error.
		if m.server, err = httpapi.NewHTTPServerChecked(deps); err != nil {
			return nil, err
		}
	} else if a.cfg.MetricsAddr != "" { // a projector or worker replica's own /metrics
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(m.metrics.reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
		m.metricsSrv = &http.Server{Addr: a.cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	// Last: the bus it connects to is closed by the pipeline's Run.
	if err := m.buildPipeline(consumers); err != nil {
		return nil, err
	}
	return m, nil
}

// openStore opens the pool of purpose and a store over it that announces its appends
// through the process's notifier (made on the first pool opened) and group-commits them.
func (m *process) openStore(ctx context.Context, a *app, purpose eventstore.Purpose) (*eventstore.Store, error) {
	url, cfg, err := a.runtimePool(purpose)
	if err != nil {
		return nil, err
	}
	pool, err := eventstore.OpenPool(ctx, url, cfg)
	if err != nil {
		return nil, err
	}
	m.closers = append(m.closers, pool.Close)
	if m.notifier == nil {
		m.notifier = eventstore.NewNotifier(pool, 0, m.log)
	}
	return eventstore.NewStore(pool, eventstore.StoreConfig{GroupCommitters: m.cfg.GroupCommitters,
		Notifier: m.notifier, Observe: m.metrics.observeStore})
}

// buildPipeline builds the relay, the bus and its consumers. The pipeline runs on the
// worker's store when this process has one; the API's store joins it for group commit (its
// committer runs with the pipeline) and to wake the relay.
func (m *process) buildPipeline(consumers []projections.Consumer) error {
	r := m.roles
	cfg := projections.PipelineConfig{Store: m.appStore, Registry: m.registry, Logger: m.log, Notifier: m.notifier, Consumers: consumers,
		NoRelay: !r.Projector, NoProjector: !r.Projector, NoDirectory: !r.Projector,
		ObserveRelay: m.metrics.relayObserved, ObserveProjector: m.metrics.projectorObserved, Modules: m.modules,
		Webhooks: true}
	if m.workerStore != nil {
		cfg.Store = m.workerStore
		if m.appStore != nil {
			cfg.Appenders = []*eventstore.Store{m.appStore}
		}
	}
	if m.cfg.Bus == "nats" {
		host, _ := os.Hostname()
		bus, err := projections.NewNATSBus(m.cfg.NATSURL, m.cfg.Cluster, fmt.Sprintf("tenantry-%s-%d", host, os.Getpid()), m.log)
		if err != nil {
			return err
		}
		cfg.Bus, cfg.RelayLease = bus, true
	}
	p, err := projections.NewPipeline(cfg)
	if err != nil {
		if cfg.Bus != nil {
			_ = cfg.Bus.Close()
		}
		return err
	}
	m.pipeline = p
	m.metrics.observeProjector(p.Projector)
	return nil
}

// Run runs the process until ctx ends, then drains it: the HTTP server first (15 s for
// requests in flight), then the workers, the bus and the pipeline. The pools stay open for
// Close.
func (m *process) Run(ctx context.Context) (err error) {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var work sync.WaitGroup
	goRun := func(run func(context.Context) error) {
		work.Add(1)
		go func() { defer work.Done(); _ = run(workCtx) }()
	}
	if m.billing != nil {
		goRun(m.billing.Run)
	}
	if m.roles.Worker {
		// Remembered Idempotency-Key answers expire across tenants: a worker's job.
		goRun(func(ctx context.Context) error {
			return m.workerStore.ForgetIdempotencyKeys(ctx, time.Hour, m.log)
		})
	}
	if m.signer != nil {
		goRun(m.signer.Run)
	}
	if m.catalog != nil {
		goRun(func(ctx context.Context) error {
			return m.catalog.Run(ctx, catalogRefresh, func(err error) { m.log.Warn("plan catalog refresh failed", "err", err) })
		})
	}
	if m.webhooks != nil {
		goRun(m.webhooks.Run)
	}
	if m.quotas != nil {
		goRun(m.quotas.Run)
	}
	if m.entitled != nil {
		goRun(m.entitled.Run)
	}
	if m.server != nil && m.cfg.GCHeapFloorMiB > 0 {
		goRun(func(ctx context.Context) error {
			httpapi.RunHeapFloor(ctx, uint64(m.cfg.GCHeapFloorMiB)<<20, httpapi.HeapFloorEvery)
			return nil
		})
	}
	goRun(m.pipeline.Run)
	drain := func() {
		stopWork()
		work.Wait()
	}

	if m.server == nil {
		if m.metricsSrv != nil {
			go func() {
				if err := m.metricsSrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
					m.log.Error("metrics server stopped", "err", err)
				}
			}()
			defer m.metricsSrv.Close()
		}
		m.log.Info("running", "projector", m.roles.Projector, "worker", m.roles.Worker, "bus", m.cfg.Bus)
		<-ctx.Done()
		m.log.Info("shutting down")
		drain()
		return nil
	}

	m.log.Info("serving", "addr", m.listener.Addr().String(), "projector", m.roles.Projector, "worker", m.roles.Worker, "bus", m.cfg.Bus)
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	m.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if serr := m.server.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	drain()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close releases what newProcess opened (the pools last), after Run has returned.
func (m *process) Close() error {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
	return nil
}

// domainRegistry is the event store's registry filled with the domain's catalog and the
// event types of a's products: the composition root joins them, so the event store never
// imports the aggregates.
func (a *app) domainRegistry() (*eventstore.Registry, error) {
	return newRegistry(a.products)
}

// projectionNames are the projections a projector runs with mods: Tenantry's own, then each
// module projection's checkpoint (as projections.Projector.Names lists them).
func projectionNames(mods []module.Module) []string {
	names := append([]string(nil), eventstore.Projections[:]...)
	for _, m := range mods {
		for _, p := range m.Projections {
			names = append(names, m.Checkpoint(p))
		}
	}
	return names
}

// modules are the modules of a's products.
func (a *app) modules() []module.Module {
	mods := make([]module.Module, len(a.products))
	for i, p := range a.products {
		mods[i] = p.Module
	}
	return mods
}

// newRegistry is the registry of the domain's catalog and of products' modules; a product
// event type that Tenantry or another product already registers, or a hole in a module's
// upcast chain, is an error.
func newRegistry(products []product.Product) (*eventstore.Registry, error) {
	r := eventstore.NewRegistry()
	if err := catalog.Register(r); err != nil {
		return nil, err
	}
	for _, p := range products {
		if err := module.Register(r, p.Module); err != nil {
			return nil, fmt.Errorf("register the events of product %s: %w", p.Module.Name, err)
		}
	}
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("check the products' events: %w", err)
	}
	return r, nil
}

// checkProducts validates the products a binary was built with, once, before any command
// runs (a bad route stops `migrate` too, not only `serve`): each module valid and not named
// as Tenantry's own areas, no two sharing a name, an event type or a metric, every route
// servable, and every event type registrable beside Tenantry's.
func checkProducts(products []product.Product) error {
	// The server's check covers the modules (module.Check, not Tenantry's own name) and
	// the routes; the registry's, every event type beside Tenantry's.
	if err := httpapi.CheckProducts(products); err != nil {
		return fmt.Errorf("products: %w", err)
	}
	if _, err := newRegistry(products); err != nil {
		return fmt.Errorf("products: %w", err)
	}
	return nil
}
