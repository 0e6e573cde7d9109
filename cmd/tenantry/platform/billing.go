package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	tapp "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
	"github.com/tenantry/tenantry/workers/schedule"
)

// billingWorker builds the billing worker on store, or says why it cannot.
// billingWorker builds the billing worker on store. The plan catalog gives it prices and
// metric definitions: the process's (kept current by its Run), or nil for one of its own,
// folded now.
func (a *app) billingWorker(ctx context.Context, store *eventstore.Store, registry *eventstore.Registry, catalog *tapp.PlanCatalog) (*billing.Worker, error) {
	if a.cfg.StripeAPIKey == "" {
		return nil, errors.New("configuration: STRIPE_API_KEY is not set (`make run` starts stripe-mock and sets it)")
	}
	if catalog == nil {
		catalog = a.planCatalog(eventstore.DomainStore{Store: store, Registry: registry})
		if _, err := catalog.Fresh(ctx); err != nil {
			return nil, err
		}
	}
	cfg := a.cfg.Billing
	cfg.Store, cfg.Registry, cfg.Claim = store, registry, a.claimer(store)
	cfg.Stripe = billing.NewStripeAPI(a.cfg.StripeAPIKey, a.cfg.StripeAPIBase, a.cfg.StripeTimeout)
	cfg.ReadModels = projections.ReadModels{Store: store}
	cfg.Plans, cfg.Definitions = catalog, catalog
	cfg.Logger = a.log.With("component", "billing")
	return billing.New(cfg)
}

// stripeDeliveries builds the use case that applies Stripe's webhook deliveries, on store
// (the API's): deliveries about a tenant go to its billing stream, the others to the record
// of ignored deliveries.
func (a *app) stripeDeliveries(store *eventstore.Store, registry *eventstore.Registry) (*tapp.StripeDeliveries, error) {
	return tapp.NewStripeDeliveries(eventstore.DomainStore{Store: store, Registry: registry}, store,
		projections.ReadModels{Store: store}, store, a.cfg.Billing.WithDefaults().Grace, nil, a.log.With("component", "billing"))
}

// claimer claims job periods for this process (once per period across replicas).
func (a *app) claimer(store *eventstore.Store) func(context.Context, string, time.Time) (func(), bool, error) {
	host, _ := os.Hostname()
	c := &schedule.Claimer{Store: store, Holder: fmt.Sprintf("%s/%d", host, os.Getpid())}
	return c.Claim
}

func (a *app) workerCmd() *cobra.Command {
	var once, asJSON bool
	cmd := &cobra.Command{
		Use:   "worker [--once [--json]]",
		Short: "Run the billing worker: link tenants to Stripe, push metered usage, apply the grace period",
		Long: "Runs a billing cycle at start and every TENANTRY_BILLING_INTERVAL (default 1h); --once runs one\n" +
			"cycle and exits, non-zero when a tenant failed. Several workers may run at once: each tenant is\n" +
			"billed by one of them at a time. Usage is read from the read models, so a projector must run.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && !once {
				return usageErr(errors.New("--json applies to --once only"))
			}
			ctx := cmd.Context()
			store, registry, closeStore, err := a.openRuntime(ctx, eventstore.ForWorker)
			if err != nil {
				return err
			}
			defer closeStore()
			w, err := a.billingWorker(ctx, store, registry, nil)
			if err != nil {
				return err
			}
			if !once {
				closeStore()
				return a.runRoles(ctx, roles{Worker: true})
			}
			stats, err := w.Cycle(ctx)
			if asJSON {
				if jerr := json.NewEncoder(a.stdout).Encode(cycleJSON{Tenants: stats.Tenants, Busy: stats.Busy, Failed: stats.Failed,
					Provisioned: stats.Provisioned, Windows: stats.Windows, Suspended: stats.Suspended}); jerr != nil {
					return jerr
				}
			} else {
				fmt.Fprintf(a.stdout, "tenants %d, busy %d, failed %d, provisioned %d, windows reported %d, suspended %d\n",
					stats.Tenants, stats.Busy, stats.Failed, stats.Provisioned, stats.Windows, stats.Suspended)
			}
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --once, print the cycle's figures as one JSON object")
	return cmd
}

// cycleJSON is what `worker --once --json` prints.
type cycleJSON struct {
	Tenants     int `json:"tenants"`
	Busy        int `json:"busy"`
	Failed      int `json:"failed"`
	Provisioned int `json:"provisioned"`
	Windows     int `json:"windows_reported"`
	Suspended   int `json:"suspended"`
}

// reconLineJSON is one line of `billing reconcile --json`: the tenant, then the line as
// GET /v1/billing gives it (sums as numbers, or strings of digits beyond 2^53-1 where a
// JSON reader's double would round them).
type reconLineJSON struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Tenant   string    `json:"tenant"`
	httpapi.BillingLine
}

func newReconLineJSON(t eventstore.TenantEntry, l tapp.ReconLine) reconLineJSON {
	return reconLineJSON{TenantID: t.ID, Tenant: t.Slug, BillingLine: httpapi.NewBillingLine(l)}
}

func (a *app) billingCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "billing", Short: "Billing tools"})
	var ref, periodArg string
	var check, asJSON bool
	reconcile := &cobra.Command{
		Use:   "reconcile [--tenant X] [--period 2026-12-01T00:00:00Z] [--check] [--json]",
		Short: "Show usage recorded against usage reported to Stripe, per tenant, metric and month",
		Long: "Compares, for every usage window that was due by now minus TENANTRY_BILLING_SETTLE, the usage\n" +
			"recorded with the usage Stripe confirmed. After a completed cycle every difference is 0;\n" +
			"--check exits non-zero when one is not.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var from, to time.Time
			if cmd.Flags().Changed("period") {
				p, err := tapp.ParsePeriod(periodArg)
				if err != nil {
					return usageErr(fmt.Errorf("--period %q: %w", clipArg(periodArg), err))
				}
				from, to = p, p.AddDate(0, 1, 0)
			}
			if ref != "" {
				if err := checkTenantRef(ref); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			store, closeStore, err := a.openStore(ctx, eventstore.ForWorker)
			if err != nil {
				return err
			}
			defer closeStore()
			var tenants []eventstore.TenantEntry
			if ref != "" {
				t, err := findTenant(ctx, store, ref)
				if err != nil {
					return err
				}
				tenants = append(tenants, t)
			} else if err := store.EachTenant(ctx, func(t eventstore.TenantEntry) error {
				tenants = append(tenants, t)
				return nil
			}); err != nil {
				return err
			}
			now := time.Now().UTC()
			rec := tapp.NewReconcile(billing.UsageLedger{Store: store}, a.cfg.Billing.WithDefaults().Settle)
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			enc := json.NewEncoder(a.stdout)
			if !asJSON {
				fmt.Fprintln(tw, "TENANT\tMETRIC\tPERIOD\tRECORDED\tREPORTED\tDIFFERENCE\tUNREPORTED WINDOWS\tIN PROGRESS")
			}
			differences := 0
			for _, t := range tenants {
				r, err := rec.Run(ctx, tapp.ReconcileInput{Tenant: t.ID, Now: now, From: from, To: to, CatchUp: 30 * time.Second})
				if err != nil {
					return fmt.Errorf("tenant %s: %w", t.Slug, err)
				}
				if r.Behind != nil {
					a.log.Warn("read models are behind; the figures may be stale", "tenant_id", t.ID, "err", r.Behind)
				}
				differences += r.Differences
				for _, l := range r.Lines {
					if asJSON {
						if err := enc.Encode(newReconLineJSON(t, l)); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", t.Slug, l.Metric, l.Period.UTC().Format(time.RFC3339),
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
	reconcile.Flags().StringVar(&periodArg, "period", "", "one month: its first instant, RFC 3339 UTC, e.g. "+tapp.PeriodExample+" (default: the months whose usage can still change)")
	reconcile.Flags().BoolVar(&check, "check", false, "exit 1 when recorded and reported usage differ")
	reconcile.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line of the table (tenant, tenant_id, metric, period, recorded, reported, difference, unreported_windows, in_progress)")
	cmd.AddCommand(a.withDatabaseURL(reconcile))
	return cmd
}

// clipArg shortens a flag value before an error quotes it.
func clipArg(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "..."
}
