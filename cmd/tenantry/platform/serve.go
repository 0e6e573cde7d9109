package platform

import (
	"context"

	"github.com/spf13/cobra"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the relay, the projector, the tenant directory and the workers in one process",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runRoles(cmd.Context(), roles{API: true, Projector: true, Worker: true})
		},
	}
}

func (a *app) apiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Run an API replica (stateless; needs TENANTRY_BUS=nats and projector processes)",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.runRoles(cmd.Context(), roles{API: true}) },
	}
}

func (a *app) projectorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "projector",
		Short: "Run a projector replica: the relay (one active at a time), the projector and the tenant directory",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.runRoles(cmd.Context(), roles{Projector: true}) },
	}
}

// runRoles builds the process for r (see process), runs it until ctx ends and closes it.
func (a *app) runRoles(ctx context.Context, r roles) error {
	m, err := a.newProcess(ctx, r)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}
