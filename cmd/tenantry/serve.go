package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	httpapi "github.com/tenantry/tenantry/http"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the API (and, as they arrive, the relay, projector and workers) in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := a.openAppPool(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			ln, err := net.Listen("tcp", a.cfg.Addr)
			if err != nil {
				return err
			}
			srv := &http.Server{
				Handler:           httpapi.New(httpapi.Deps{Logger: a.log, DB: pool}),
				ReadHeaderTimeout: 10 * time.Second,
			}
			a.log.Info("serving", "addr", ln.Addr().String())
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			a.log.Info("shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}
