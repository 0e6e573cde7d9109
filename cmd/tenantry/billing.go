package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
	"github.com/tenantry/tenantry/workers/schedule"
)

// billingWorker builds the billing worker on store, or says why it cannot.
func (a *app) billingWorker(store *eventstore.Store, registry *eventstore.Registry) (*billing.Worker, error) {
	if a.cfg.StripeAPIKey == "" {
		return nil, errors.New("configuration: STRIPE_API_KEY is not set (`make run` starts stripe-mock and sets it)")
	}
	cfg := a.cfg.Billing.WithDefaults()
	return &billing.Worker{
		Store: store, Registry: registry, Config: cfg, Claim: a.claimer(store.Pool()),
		Stripe: billing.NewStripeAPI(a.cfg.StripeAPIKey, a.cfg.StripeAPIBase, a.cfg.StripeTimeout),
		Caller: &billing.Caller{Limiter: rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), max(1, int(cfg.RequestsPerSecond)))},
		Logger: a.log.With("component", "billing"),
	}, nil
}

// claimer claims job periods for this process (once per period across replicas).
func (a *app) claimer(pool *pgxpool.Pool) func(context.Context, string, time.Time) (func(), bool, error) {
	host, _ := os.Hostname()
	c := &schedule.Claimer{Pool: pool, Holder: fmt.Sprintf("%s/%d", host, os.Getpid())}
	return c.Claim
}

func (a *app) workerCmd() *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the billing worker: link tenants to Stripe, push metered usage, apply the grace period",
		Long: "Runs a billing cycle at start and every TENANTRY_BILLING_INTERVAL (default 1h); --once runs one\n" +
			"cycle and exits, non-zero when a tenant failed. Several workers may run at once: each tenant is\n" +
			"billed by one of them at a time. Usage is read from the read models, so a projector must run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, registry, err := a.openRuntime(ctx, eventstore.ForWorker)
			if err != nil {
				return err
			}
			defer pool.Close()
			w, err := a.billingWorker(eventstore.New(pool), registry)
			if err != nil {
				return err
			}
			if !once {
				pool.Close()
				return a.runRoles(ctx, roles{Worker: true})
			}
			stats, err := w.Cycle(ctx)
			fmt.Fprintf(a.stdout, "tenants %d, busy %d, failed %d, provisioned %d, windows reported %d, suspended %d\n",
				stats.Tenants, stats.Busy, stats.Failed, stats.Provisioned, stats.Windows, stats.Suspended)
			if err != nil {
				return err
			}
			if stats.Failed > 0 {
				return fmt.Errorf("%d tenants failed; see the log", stats.Failed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one cycle and exit")
	return cmd
}

func (a *app) billingCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "billing", Short: "Billing tools"}
	var ref string
	var check bool
	reconcile := &cobra.Command{
		Use:   "reconcile",
		Short: "Show usage recorded against usage reported to Stripe, per tenant, metric and month",
		Long: "Compares, for every usage window that was due by now minus TENANTRY_BILLING_SETTLE, the usage\n" +
			"recorded with the usage Stripe confirmed. After a completed cycle every difference is 0;\n" +
			"--check exits non-zero when one is not.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, _, err := a.openRuntime(ctx, eventstore.ForWorker)
			if err != nil {
				return err
			}
			defer pool.Close()
			store := eventstore.New(pool)
			var tenants []eventstore.TenantEntry
			if ref != "" {
				t, err := eventstore.New(pool).FindTenant(ctx, ref)
				if err != nil {
					return err
				}
				tenants = append(tenants, t)
			} else if err := eventstore.New(pool).EachTenant(ctx, func(t eventstore.TenantEntry) error {
				tenants = append(tenants, t)
				return nil
			}); err != nil {
				return err
			}
			now := time.Now().UTC()
			cutoff := now.Add(-a.cfg.Billing.WithDefaults().Settle).Truncate(time.Hour) // the end of the last window due
			from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -2, 0)
			if f := now.Add(-usage.MaxAge - time.Hour); f.Before(from) {
				from = time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC)
			}
			to := now.Add(time.Hour)
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TENANT\tMETRIC\tPERIOD\tRECORDED\tREPORTED\tDIFFERENCE\tUNREPORTED WINDOWS\tIN PROGRESS")
			differences := 0
			for _, t := range tenants {
				// Read models that include every event the tenant has now, the last
				// cycle's usage.reported events among them.
				if head, _, err := store.Head(ctx, t.ID); err != nil {
					return fmt.Errorf("tenant %s: %w", t.Slug, err)
				} else if err := eventstore.New(pool).WaitFor(ctx, t.ID, head, 30*time.Second); err != nil {
					a.log.Warn("read models are behind; the figures may be stale", "tenant_id", t.ID, "err", err)
				}
				var lines []projections.ReconLine
				err := eventstore.InTenant(ctx, pool, t.ID, true, func(tx pgx.Tx) error {
					var err error
					lines, err = projections.Reconcile(ctx, tx, from, to, cutoff)
					return err
				})
				if err != nil {
					return fmt.Errorf("tenant %s: %w", t.Slug, err)
				}
				for _, l := range lines {
					if l.Difference != 0 {
						differences++
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", t.Slug, l.Metric, l.Period.Format("2006-01"),
						l.Recorded, l.Reported, l.Difference, l.UnreportedWindows, l.InProgress)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if check && differences > 0 {
				return fmt.Errorf("%d tenant-metric-months have usage not yet reported to Stripe", differences)
			}
			return nil
		},
	}
	reconcile.Flags().StringVar(&ref, "tenant", "", "one tenant, by slug or id (default: every tenant)")
	reconcile.Flags().BoolVar(&check, "check", false, "exit non-zero when recorded and reported usage differ")
	cmd.AddCommand(reconcile)
	return cmd
}
