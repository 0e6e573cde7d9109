package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the relay, the projector, the tenant directory and the billing worker in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, registry, err := a.openRuntime(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			ln, err := net.Listen("tcp", a.cfg.Addr)
			if err != nil {
				return err
			}

			store := eventstore.New(pool)
			metrics := newProcessMetrics(pool)
			store.SetObserver(metrics.observeStore)
			pipeline := projections.NewPipeline(store, registry, a.log)
			metrics.observePipeline(pipeline)
			deps := httpapi.Deps{Logger: a.log, Store: store, Registry: registry,
				OperatorToken: a.cfg.OperatorToken, BaseDomain: a.cfg.BaseDomain, OpenSignup: a.cfg.OpenSignup,
				StripeWebhookSecret: a.cfg.StripeWebhookSecret, Plans: a.cfg.Plans, BillingSettle: a.cfg.Billing.Settle,
				AuditSigner: a.cfg.AuditSigner, Metrics: metrics.reg}
			workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
			var workers sync.WaitGroup
			worker, werr := a.billingWorker(store, registry)
			if werr != nil {
				// Webhooks are still applied: that needs only the database.
				a.log.Warn("billing worker off", "reason", werr.Error())
				deps.Webhooks = (&billing.Worker{Store: store, Registry: registry, Config: a.cfg.Billing,
					Logger: a.log.With("component", "billing")}).Receive
			} else {
				pipeline.AddConsumer(worker.Consume)
				metrics.observeWorker(worker)
				deps.Webhooks = worker.Receive
				workers.Add(1)
				go func() { defer workers.Done(); _ = worker.Run(workCtx) }()
			}
			if a.cfg.AuditSigner != nil {
				signer := &audit.HeadSigner{Store: store, Signer: a.cfg.AuditSigner, Interval: a.cfg.AuditHeadInterval,
					Logger: a.log.With("component", "audit")}
				metrics.observeHeadSigner(signer)
				workers.Add(1)
				go func() { defer workers.Done(); _ = signer.Run(workCtx) }()
			}
			workDone := make(chan struct{})
			go func() { defer close(workDone); _ = pipeline.Run(workCtx) }()
			go func() { _ = httpapi.ForgetIdempotencyKeys(workCtx, pool, time.Hour, a.log) }()

			srv := &http.Server{
				Handler:           httpapi.New(deps),
				ReadHeaderTimeout: 10 * time.Second,
			}
			a.log.Info("serving", "addr", ln.Addr().String())
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err = <-errc:
			case <-ctx.Done():
			}
			// Drain in order: HTTP, then the bus and its producers and consumers, then the pool.
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
		},
	}
}
