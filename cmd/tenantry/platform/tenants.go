package platform

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
	"github.com/tenantry/tenantry/http/api"
)

func (a *app) tenantsCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "tenants", Short: "Create and list tenants"})
	cmd.AddCommand(a.withDatabaseURL(a.tenantsCreateCmd()), a.withDatabaseURL(a.tenantsListCmd()))
	return cmd
}

func (a *app) tenantsCreateCmd() *cobra.Command {
	var name, slug, plan, interval, email string
	cmd := &cobra.Command{
		Use:   "create --name N --slug S --admin-email E [--plan KEY] [--interval monthly|yearly]",
		Short: "Create a tenant, its first admin and the admin's API key (printed once), as POST /v1/tenants does",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "name", "slug", "admin-email"); err != nil {
				return err
			}
			// The same use case as POST /v1/tenants: it validates, claims the slug and
			// appends exactly as the API does. A bad flag value is a usage error.
			in, invalid := usecases.ParseSignUp(name, slug, plan, interval, email)
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
			events := eventstore.DomainStore{Store: store, Registry: registry}
			out, err := usecases.SignUp{Events: events, Slugs: store, Plans: a.planCatalog(events), Now: time.Now}.Run(ctx, in)
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
	cmd.Flags().StringVar(&plan, "plan", "free", "the plan's key in the catalog (default catalog: free, pro or enterprise)")
	cmd.Flags().StringVar(&interval, "interval", "monthly", "monthly or yearly (the plan must be sold at it)")
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
	var cursor, limitArg string
	cmd := &cobra.Command{
		Use:   "list [--cursor C] [--limit N] [--json]",
		Short: "List tenants by id, a page at a time, with status, plan and projection lag (events not yet in the read models)",
		Long: "Pages as the API's lists do: at most --limit tenants (1 to 1000, default 100) after --cursor, the\n" +
			"next_cursor of the previous page. --json prints the page as GET /v1/admin/tenants answers it\n" +
			"({tenants, next_cursor, has_more}); the table ends with the --cursor of the next page when there is one.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr, err := domain.ParsePageRequest(domain.ListTenants, cursor, limitArg)
			if err != nil {
				return usageErr(fmt.Errorf("tenants list: %w", flagNames(err)))
			}
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
			entries, err := store.ListTenants(ctx, pr.After, pr.Limit+1)
			if err != nil {
				return fmt.Errorf("list tenants: %w", err)
			}
			page := domain.NewPage(entries, pr.Limit, func(t eventstore.TenantEntry) string { return domain.IDCursor(domain.ListTenants, t.ID) })
			rows := make([]row, 0, len(page.Items))
			for _, t := range page.Items {
				head, projected, err := store.Progress(ctx, t.ID)
				if err != nil {
					return fmt.Errorf("tenant %s: %w", t.Slug, err)
				}
				rows = append(rows, row{TenantEntry: t, Events: head, Projected: projected, Lag: head - projected})
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(struct {
					Tenants []row `json:"tenants"`
					api.Page
				}{rows, api.Page{NextCursor: page.NextCursor, HasMore: page.HasMore}})
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tID\tSTATUS\tPLAN\tEVENTS\tPROJECTED\tLAG")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.Slug, r.ID, r.Status, r.Plan, r.Events, r.Projected, r.Lag)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.HasMore {
				_, err = fmt.Fprintf(a.stdout, "more: --cursor %s\n", *page.NextCursor)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&cursor, "cursor", "", "the next_cursor of the previous page (default: the first page)")
	cmd.Flags().StringVar(&limitArg, "limit", "", "at most this many tenants, 1 to 1000 (default 100)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the page as one JSON object: {tenants, next_cursor, has_more}")
	return cmd
}

// flagNames words a paging error in flags: "--cursor: ..." and "--limit: ...".
func flagNames(err error) error {
	var many domain.Invalids
	if !errors.As(err, &many) {
		var one *domain.Error
		if errors.As(err, &one) {
			many = domain.Invalids{one}
		}
	}
	if len(many) == 0 {
		return err
	}
	msgs := make([]string, len(many))
	for i, e := range many {
		msgs[i] = fieldMessage(e)
	}
	return errors.New(strings.Join(msgs, "; "))
}
