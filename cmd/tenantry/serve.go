package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/projections"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the relay, the projector and the tenant directory in one process",
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
			pipeline := projections.NewPipeline(store, registry, a.log)
			workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
			workDone := make(chan struct{})
			go func() { defer close(workDone); _ = pipeline.Run(workCtx) }()
			go func() { _ = httpapi.ForgetIdempotencyKeys(workCtx, pool, time.Hour, a.log) }()

			srv := &http.Server{
				Handler: httpapi.New(httpapi.Deps{Logger: a.log, Store: store, Registry: registry,
					OperatorToken: a.cfg.OperatorToken, BaseDomain: a.cfg.BaseDomain, OpenSignup: a.cfg.OpenSignup,
					StripeWebhookSecret: a.cfg.StripeWebhookSecret, Plans: a.cfg.Plans}),
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
			<-workDone
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return err
		},
	}
}
