package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/domain"
	usecases "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
)

func (a *app) tenantsCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "tenants", Short: "Create and list tenants"})
	cmd.AddCommand(a.withDatabaseURL(a.tenantsCreateCmd()), a.withDatabaseURL(a.tenantsListCmd()))
	return cmd
}

func (a *app) tenantsCreateCmd() *cobra.Command {
	var name, slug, plan, email string
	cmd := &cobra.Command{
		Use:   "create --name N --slug S --admin-email E [--plan free|pro|enterprise]",
		Short: "Create a tenant, its first admin and the admin's API key (printed once), as POST /v1/tenants does",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "name", "slug", "admin-email"); err != nil {
				return err
			}
			// The same use case as POST /v1/tenants: it validates, claims the slug and
			// appends exactly as the API does. A bad flag value is a usage error.
			in, invalid := usecases.ParseSignUp(name, slug, plan, email)
			if len(invalid) > 0 {
				return usageErr(notCreated("invalid flags", invalid...))
			}
			ctx := cmd.Context()
			store, registry, closeStore, err := a.openRuntime(ctx, eventstore.ForAPI)
			if err != nil {
				return err
			}
			defer closeStore()
			in.Meta = domain.Metadata{Actor: "operator", RequestID: uuid.NewString()}
			in.Meta.CorrelationID = in.Meta.RequestID
			out, err := usecases.SignUp{Events: eventstore.DomainStore{Store: store, Registry: registry}, Slugs: store, Now: time.Now}.Run(ctx, in)
			var de *domain.Error
			switch {
			case errors.Is(err, usecases.ErrSlugTaken):
				return notCreated("the slug "+in.Slug.String()+" is taken", &domain.Error{Field: "slug", Message: "is taken"})
			case errors.As(err, &de) && de.Field != "" && (de.Code == domain.CodeInvalid || de.Code == domain.CodeLimit):
				return notCreated(de.Message, de)
			case errors.As(err, &de):
				return notCreated(de.Message)
			case err != nil:
				return fmt.Errorf("tenant not created: %w", err)
			}
			// The events are the tenant; a running serve projects them. Without one the
			// answer comes after a short wait, and the read models follow when serve starts.
			_ = store.WaitForProjections(ctx, out.Tenant.ID, out.Seq, signUpSettle, eventstore.ProjectionAuth)
			_ = store.WaitForDirectory(ctx, out.Tenant.ID, signUpSettle)
			a.log.Info("tenant created", "tenant_id", out.Tenant.ID.String(), "slug", out.Tenant.Slug, "plan", out.Tenant.Plan)
			enc := json.NewEncoder(a.stdout)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&slug, "slug", "", "unique handle: lowercase letters, digits and hyphens")
	cmd.Flags().StringVar(&plan, "plan", "free", "free, pro or enterprise")
	cmd.Flags().StringVar(&email, "admin-email", "", "the first admin's email")
	return cmd
}

// signUpSettle bounds each wait of `tenants create` for the read models to show the tenant.
const signUpSettle = 3 * time.Second

// notCreated is the error of a refused sign-up: the reason, then each bad field.
func notCreated(detail string, fields ...*domain.Error) error {
	for _, f := range fields {
		detail += "; " + fieldMessage(f)
	}
	return errors.New("tenant not created: " + detail)
}

// fieldMessage names the flag of a field error once: "--name: name is required", not
// "name name is required".
func fieldMessage(f *domain.Error) string {
	if f.Field == "" {
		return f.Message
	}
	return "--" + strings.ReplaceAll(f.Field, "_", "-") + ": " + f.Message
}

// requireFlags is a usage error naming every flag of names that was not given.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usageErr(fmt.Errorf("required flags not given: %s", strings.Join(missing, ", ")))
	}
	return nil
}

func (a *app) tenantsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List tenants with status, plan and projection lag (events not yet in the read models)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			store, closeStore, err := a.openStore(ctx, eventstore.ForWorker)
			if err != nil {
				return err
			}
			defer closeStore()
			type row struct {
				eventstore.TenantEntry
				Events    int64 `json:"events"`
				Projected int64 `json:"projected"`
				Lag       int64 `json:"lag"`
			}
			var rows []row
			err = store.EachTenant(ctx, func(t eventstore.TenantEntry) error {
				head, projected, err := store.Progress(ctx, t.ID)
				if err != nil {
					return fmt.Errorf("tenant %s: %w", t.Slug, err)
				}
				rows = append(rows, row{TenantEntry: t, Events: head, Projected: projected, Lag: head - projected})
				return nil
			})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, r := range rows {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tID\tSTATUS\tPLAN\tEVENTS\tPROJECTED\tLAG")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.Slug, r.ID, r.Status, r.Plan, r.Events, r.Projected, r.Lag)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per tenant")
	return cmd
}
