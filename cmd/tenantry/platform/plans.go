package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/cmd/tenantry/catalogfile"
	"github.com/tenantry/tenantry/domain"
	usecases "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/eventstore"
)

// catalogRefresh is how often a process reads the catalog stream for changes another
// process applied (a process that applies or signs up refreshes at once).
const catalogRefresh = 5 * time.Second

// planCatalog is the plan catalog over events: the default catalog (with the
// TENANTRY_PLAN_LIMITS overrides) and the catalog stream folded over it by Fresh.
func (a *app) planCatalog(events usecases.EventStore) *usecases.PlanCatalog {
	return usecases.NewPlanCatalog(events, plans.Default(a.cfg.Plans))
}

func (a *app) plansCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "plans", Short: "Read and apply the plan catalog, move tenants between plan versions"})
	cmd.AddCommand(a.withDatabaseURL(a.plansApplyCmd()), a.withDatabaseURL(a.plansListCmd()), a.withDatabaseURL(a.plansMigrateCmd()))
	return cmd
}

// withCatalog opens the API's store and the plan catalog over it, folded to now.
func (a *app) withCatalog(cmd *cobra.Command, fn func(cat *usecases.PlanCatalog, store *eventstore.Store, events eventstore.DomainStore) error) error {
	ctx := cmd.Context()
	store, registry, closeStore, err := a.openRuntime(ctx, eventstore.ForAPI)
	if err != nil {
		return err
	}
	defer closeStore()
	events := eventstore.DomainStore{Store: store, Registry: registry}
	cat := a.planCatalog(events)
	if _, err := cat.Fresh(ctx); err != nil {
		return err
	}
	return fn(cat, store, events)
}

func operatorMeta() domain.Metadata {
	id := uuid.NewString()
	return domain.Metadata{Actor: "operator", RequestID: id, CorrelationID: id}
}

func (a *app) plansApplyCmd() *cobra.Command {
	var dryRun, asJSON bool
	var version int64
	cmd := &cobra.Command{
		Use:   "apply FILE [--dry-run] [--catalog-version N]",
		Short: "Make the plan catalog equal to a YAML document, printing the difference (as PUT /v1/admin/catalog does)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return usageErr(err)
			}
			defer f.Close()
			defs, err := catalogfile.Read(f)
			if err != nil {
				var de *domain.Error
				if errors.As(err, &de) {
					return usageErr(fmt.Errorf("%s: %s: %s", args[0], de.Field, de.Message))
				}
				return usageErr(fmt.Errorf("%s: %w", args[0], err))
			}
			expected := domain.Any
			if cmd.Flags().Changed("catalog-version") {
				expected = domain.Exact(version)
			}
			return a.withCatalog(cmd, func(cat *usecases.PlanCatalog, _ *eventstore.Store, _ eventstore.DomainStore) error {
				out, err := cat.Apply(cmd.Context(), usecases.ApplyCatalogInput{Definitions: defs, DryRun: dryRun, Expected: expected, Meta: operatorMeta()})
				if err != nil {
					return fmt.Errorf("catalog not applied: %w", err)
				}
				if asJSON {
					return json.NewEncoder(a.stdout).Encode(out)
				}
				return a.printDiff(out)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the difference and write nothing")
	cmd.Flags().Int64Var(&version, "catalog-version", 0, "apply only if the catalog is still at this version (a dry run prints it)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the answer as PUT /v1/admin/catalog does (JSON)")
	return cmd
}

// printDiff prints one line per plan and metric: what the apply does (did) to it and the
// version it is at afterwards.
func (a *app) printDiff(out usecases.CatalogApplied) error {
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tKEY\tCHANGE\tVERSION")
	for _, c := range out.Diff.Metrics {
		fmt.Fprintf(tw, "metric\t%s\t%s\t%d\n", c.Key, c.Status, c.Version)
	}
	for _, c := range out.Diff.Plans {
		fmt.Fprintf(tw, "plan\t%s\t%s\t%d\n", c.Key, c.Status, c.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verb := "applied"
	switch {
	case out.DryRun:
		verb = "dry run, nothing written"
	case !out.Diff.Changes():
		verb = "nothing to change"
	}
	_, err := fmt.Fprintf(a.stdout, "catalog version %d (%s)\n", out.CatalogVersion, verb)
	return err
}

func (a *app) plansListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the plans (current version, retired or not) and the declared metrics",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withCatalog(cmd, func(pc *usecases.PlanCatalog, _ *eventstore.Store, _ eventstore.DomainStore) error {
				cat := pc.Current()
				tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PLAN\tVERSION\tSTATE\tINTERVALS\tTRIAL\tSEATS\tRPS\tBURST")
				for _, key := range cat.Keys() {
					vs := cat.Versions(key)
					p := vs[len(vs)-1]
					state := "offered"
					if cat.Retired(key) {
						state = "retired"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%v\t%dd\t%d\t%s\t%d\n", key, p.Version, state, p.IntervalNames(), p.TrialDays,
						p.Limits.Seats, strconv.FormatFloat(p.Limits.RequestsPerSecond, 'f', -1, 64), p.Limits.Burst)
				}
				for _, m := range cat.Metrics() {
					fmt.Fprintf(tw, "metric %s\t%d\t%s/%s\tscale %d\t%s\t\t\t\n", m.Metric, cat.MetricVersion(m.Metric), m.Kind, m.Aggregation, m.Scale, m.Unit)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				_, err := fmt.Fprintf(a.stdout, "catalog version %d\n", cat.StreamVersion())
				return err
			})
		},
	}
}

func (a *app) plansMigrateCmd() *cobra.Command {
	var from, to int
	cmd := &cobra.Command{
		Use:   "migrate-tenants KEY --to-version N [--from-version M]",
		Short: "Move the tenants on a plan to another of its versions (as POST /v1/admin/plans/{key}/migrate-tenants does)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := domain.ParsePlanName(args[0])
			if err != nil {
				return usageErr(err)
			}
			if to < 1 || from < 0 {
				return usageErr(errors.New("--to-version must be 1 or more, --from-version 0 or more"))
			}
			return a.withCatalog(cmd, func(cat *usecases.PlanCatalog, store *eventstore.Store, events eventstore.DomainStore) error {
				out, err := usecases.PlanMigration{Events: events, Plans: cat, Tenants: store, Now: time.Now}.Run(cmd.Context(),
					usecases.MigrateInput{Plan: key, FromVersion: from, ToVersion: to, Meta: operatorMeta()})
				if err != nil {
					return fmt.Errorf("tenants not migrated: %w", err)
				}
				return json.NewEncoder(a.stdout).Encode(out)
			})
		},
	}
	cmd.Flags().IntVar(&to, "to-version", 0, "the version to move tenants to")
	cmd.Flags().IntVar(&from, "from-version", 0, "move only the tenants on this version (default: any other)")
	return cmd
}
