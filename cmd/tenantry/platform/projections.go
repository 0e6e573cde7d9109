package platform

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/projections"
)

func (a *app) projectionsCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "projections", Short: "Operate the read models"})
	var tenantArg string
	var all bool
	rebuild := &cobra.Command{
		Use:   "rebuild (--tenant X | --all)",
		Short: "Replay tenants' events into fresh read models and swap them in atomically",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (tenantArg == "") == !all {
				return usageErr(errors.New("projections rebuild: give exactly one of --tenant X (a slug or an id) or --all"))
			}
			if !all {
				if err := checkTenantRef(tenantArg); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			registry, err := a.domainRegistry()
			if err != nil {
				return err
			}
			store, closePool, err := a.openStore(ctx, eventstore.ForWorker)
			if err != nil {
				return err
			}
			defer closePool()
			p := &projections.Projector{Store: store, Registry: registry, Logger: a.log, Modules: a.modules()}
			if !all {
				tenant, err := resolveTenant(ctx, store, tenantArg)
				if err != nil {
					return err
				}
				progress := a.progress("events replayed")
				if err := p.Rebuild(ctx, tenant, func(done, total int64) {
					if total > 0 {
						progress(int(done), int(total))
					}
				}); err != nil {
					return err
				}
				a.log.Info("rebuilt", "tenant_id", tenant)
				return nil
			}
			progress := a.progress("tenants rebuilt")
			failed, err := p.RebuildAll(ctx, func(_ uuid.UUID, i, n int) { progress(i, n) })
			for id, ferr := range failed {
				a.log.Error("tenant not rebuilt", "tenant_id", id, "err", ferr)
			}
			if err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d tenants could not be rebuilt (listed above)", len(failed))
			}
			a.log.Info("all tenants rebuilt")
			return nil
		},
	}
	rebuild.Flags().StringVar(&tenantArg, "tenant", "", "the tenant to rebuild, by slug or id")
	rebuild.Flags().BoolVar(&all, "all", false, "rebuild every tenant")
	cmd.AddCommand(a.withDatabaseURL(rebuild))
	return cmd
}
