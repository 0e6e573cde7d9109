package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/projections"
)

// eventsTopic is the bus topic the relay publishes every event to.
const eventsTopic = "tenantry.events"

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
			notifier := eventstore.NewNotifier(pool, 0, a.log)
			store.SetNotifier(notifier)
			committer := eventstore.NewGroupCommitter(store, 4)
			store.SetGroupCommitter(committer)
			// In one process the bus is a Go channel; publishing waits for the projector's
			// acknowledgement, which keeps order and gives back-pressure.
			bus := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024, BlockPublishUntilSubscriberAck: true},
				watermill.NewSlogLogger(a.log))
			msgs, err := bus.Subscribe(ctx, eventsTopic)
			if err != nil {
				return err
			}
			relay := &eventstore.Relay{Store: store, Publisher: bus, Topic: eventsTopic, Name: "relay",
				Logger: a.log.With("component", "relay"), Wake: notifier.Subscribe()}
			projector := &projections.Projector{Pool: pool, Registry: registry, Logger: a.log.With("component", "projector")}
			directory := &projections.Directory{Store: store, Registry: registry, Logger: a.log.With("component", "directory"),
				Wake: notifier.Subscribe()}

			workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
			var wg sync.WaitGroup
			for _, run := range []func(context.Context) error{committer.Run, notifier.Run, relay.Run, projector.Run, directory.Run,
				func(ctx context.Context) error { projector.Consume(ctx, msgs); return nil }} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := run(workCtx); err != nil {
						a.log.Error("background component stopped", "err", err)
					}
				}()
			}

			srv := &http.Server{
				Handler:           httpapi.New(httpapi.Deps{Logger: a.log, DB: pool}),
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
			_ = bus.Close()
			wg.Wait()
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return err
		},
	}
}
