package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
)

// roles are the parts a process runs: serve runs them all; api, projector and worker one
// each, as replicas that share PostgreSQL and NATS.
type roles struct {
	API       bool // the HTTP API
	Projector bool // the relay (one active cluster-wide), the projector and the tenant directory
	Worker    bool // the billing worker and the head signer
}

func (r roles) all() bool { return r.API && r.Projector && r.Worker }

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the relay, the projector, the tenant directory and the workers in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runRoles(cmd.Context(), roles{API: true, Projector: true, Worker: true})
		},
	}
}

func (a *app) apiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Run an API replica (stateless; needs TENANTRY_BUS=nats and projector processes)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.runRoles(cmd.Context(), roles{API: true}) },
	}
}

func (a *app) projectorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "projector",
		Short: "Run a projector replica: the relay (one active at a time), the projector and the tenant directory",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.runRoles(cmd.Context(), roles{Projector: true}) },
	}
}

// runRoles runs the chosen parts until ctx ends, then drains them: HTTP first, then the
// bus with its producers and consumers, then the pool.
func (a *app) runRoles(ctx context.Context, r roles) error {
	if !r.all() && a.cfg.Bus != "nats" && (r.API || r.Projector) {
		return errors.New("configuration: running the API or the projector as a process of its own needs TENANTRY_BUS=nats (serve runs everything in one process)")
	}
	// Each part on the pool of its role: the API as tenantry_app, the cross-tenant machinery
	// (relay, projector, directory, billing worker, head signer, janitors) as
	// tenantry_worker. An API replica never opens the worker's pool.
	registry, err := eventstore.DomainRegistry()
	if err != nil {
		return err
	}
	var appStore, workerStore *eventstore.Store
	if r.API {
		pool, err := a.openPool(ctx, eventstore.ForAPI)
		if err != nil {
			return err
		}
		defer pool.Close()
		appStore = eventstore.New(pool)
	}
	if r.Projector || r.Worker {
		pool, err := a.openPool(ctx, eventstore.ForWorker)
		if err != nil {
			return err
		}
		defer pool.Close()
		workerStore = eventstore.New(pool)
	}
	var ln net.Listener
	if r.API {
		if ln, err = net.Listen("tcp", a.cfg.Addr); err != nil {
			return err
		}
	}

	// The pipeline (group commit, notifications, relay, consumers) runs on the worker's
	// store when this process has one; the API's store joins it for group commit and to
	// wake the relay.
	store, opts := appStore, projections.PipelineOptions{NoRelay: !r.Projector, NoProjector: !r.Projector, NoDirectory: !r.Projector}
	if workerStore != nil {
		store = workerStore
		if appStore != nil {
			opts.Appenders = []*eventstore.Store{appStore}
		}
	}
	var backlog *pgxpool.Pool // the backlog gauges read across tenants: the worker's pool only
	if workerStore != nil {
		backlog = workerStore.Pool()
	}
	metrics := newProcessMetrics(backlog)
	for _, s := range []*eventstore.Store{appStore, workerStore} {
		if s != nil {
			s.SetObserver(metrics.observeStore)
		}
	}
	if a.cfg.Bus == "nats" {
		host, _ := os.Hostname()
		bus, err := projections.NewNATSBus(a.cfg.NATSURL, a.cfg.Cluster, fmt.Sprintf("tenantry-%s-%d", host, os.Getpid()), a.log)
		if err != nil {
			return err
		}
		opts.Bus, opts.RelayLease = bus, true
	}
	pipeline := projections.NewPipelineWith(store, registry, a.log, opts)
	metrics.observePipeline(pipeline)

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var workers sync.WaitGroup
	var webhooks *billing.Worker
	if r.API {
		// Stripe webhooks are applied by the API, on its own role: they name one tenant,
		// found through the directory, and append inside its context.
		webhooks = &billing.Worker{Store: appStore, Registry: registry, Config: a.cfg.Billing.WithDefaults(), Logger: a.log.With("component", "billing")}
	}
	if r.Worker {
		worker, werr := a.billingWorker(workerStore, registry)
		if werr != nil {
			a.log.Warn("billing worker off", "reason", werr.Error())
		} else {
			pipeline.AddConsumer("billing", worker.Consume)
			metrics.observeWorker(worker)
			workers.Add(1)
			go func() { defer workers.Done(); _ = worker.Run(workCtx) }()
		}
		// Remembered Idempotency-Key answers expire across tenants: a worker's job.
		go func() { _ = workerStore.ForgetIdempotencyKeys(workCtx, time.Hour, a.log) }()
	}
	if r.Worker && a.cfg.AuditSigner != nil {
		signer := &audit.HeadSigner{Store: workerStore, Signer: a.cfg.AuditSigner, Interval: a.cfg.AuditHeadInterval,
			Logger: a.log.With("component", "audit"), Claim: a.claimer(workerStore.Pool())}
		metrics.observeHeadSigner(signer)
		workers.Add(1)
		go func() { defer workers.Done(); _ = signer.Run(workCtx) }()
	}
	workDone := make(chan struct{})
	go func() { defer close(workDone); _ = pipeline.Run(workCtx) }()
	if !r.API {
		if a.cfg.MetricsAddr != "" { // a projector or worker replica's own /metrics
			mux := http.NewServeMux()
			mux.Handle("/metrics", promhttp.HandlerFor(metrics.reg, promhttp.HandlerOpts{}))
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
			msrv := &http.Server{Addr: a.cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				if err := msrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
					a.log.Error("metrics server stopped", "err", err)
				}
			}()
			defer msrv.Close()
		}
		a.log.Info("running", "projector", r.Projector, "worker", r.Worker, "bus", a.cfg.Bus)
		<-ctx.Done()
		a.log.Info("shutting down")
		stopWork()
		workers.Wait()
		<-workDone
		return nil
	}

	deps := httpapi.Deps{Logger: a.log, Store: appStore, Registry: registry,
		OperatorToken: a.cfg.OperatorToken, BaseDomain: a.cfg.BaseDomain, OpenSignup: a.cfg.OpenSignup,
		StripeWebhookSecret: a.cfg.StripeWebhookSecret, Plans: a.cfg.Plans, BillingSettle: a.cfg.Billing.Settle,
		AuditSigner: a.cfg.AuditSigner, Metrics: metrics.reg, Webhooks: webhooks.Receive,
		TrustedProxies: a.cfg.TrustedProxies, Timeouts: a.cfg.HTTPTimeouts}
	if a.cfg.RedisURL != "" {
		if deps.SharedLimits, err = httpapi.NewRedisLimits(a.cfg.RedisURL); err != nil {
			return err
		}
	}
	srv := httpapi.NewHTTPServer(deps) // read, write and idle timeouts, header size limit
	a.log.Info("serving", "addr", ln.Addr().String(), "projector", r.Projector, "worker", r.Worker, "bus", a.cfg.Bus)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	stopWork()
	workers.Wait()
	<-workDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
