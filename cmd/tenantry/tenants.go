package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
)

func (a *app) tenantsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenants", Short: "Create and list tenants"}
	cmd.AddCommand(a.tenantsCreateCmd(), a.tenantsListCmd())
	return cmd
}

func (a *app) tenantsCreateCmd() *cobra.Command {
	var name, slug, plan, email string
	cmd := &cobra.Command{
		Use:   "create --name N --slug S --admin-email E [--plan free|pro|enterprise]",
		Short: "Create a tenant, its first admin and the admin's API key (printed once), as POST /v1/tenants does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, registry, err := a.openRuntime(ctx, eventstore.ForAPI)
			if err != nil {
				return err
			}
			defer pool.Close()
			// The API's own sign-up runs in process, so the command validates, claims the
			// slug and appends exactly as the API does, with a one-off operator token.
			tok := make([]byte, 24)
			if _, err := rand.Read(tok); err != nil {
				return err
			}
			token := hex.EncodeToString(tok)
			// The events are the tenant; a running serve projects them. Without one the
			// reply comes after a short wait, and the read models follow when serve starts.
			api := httpapi.New(httpapi.Deps{Logger: a.log, Store: eventstore.New(pool), Registry: registry,
				OperatorToken: token, Plans: a.cfg.Plans, SettleTimeout: 3 * time.Second})
			body, _ := json.Marshal(map[string]string{"name": name, "slug": slug, "plan": plan, "admin_email": email})
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/tenants", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				var p struct {
					Detail string `json:"detail"`
					Errors []struct {
						Field, Message string
					} `json:"errors"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &p)
				msg := p.Detail
				for _, e := range p.Errors {
					msg += fmt.Sprintf("; %s %s", e.Field, e.Message)
				}
				return fmt.Errorf("tenant not created: %s", msg)
			}
			var out bytes.Buffer
			_ = json.Indent(&out, rec.Body.Bytes(), "", "  ")
			_, err = fmt.Fprintln(a.stdout, out.String())
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&slug, "slug", "", "unique handle: lowercase letters, digits and hyphens")
	cmd.Flags().StringVar(&plan, "plan", "free", "free, pro or enterprise")
	cmd.Flags().StringVar(&email, "admin-email", "", "the first admin's email")
	return cmd
}

func (a *app) tenantsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List tenants with status, plan and projection lag (events not yet in the read models)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := a.openPool(ctx, eventstore.ForWorker)
			if err != nil {
				return err
			}
			defer pool.Close()
			type row struct {
				eventstore.TenantEntry
				Events    int64 `json:"events"`
				Projected int64 `json:"projected"`
				Lag       int64 `json:"lag"`
			}
			var rows []row
			err = eventstore.New(pool).EachTenant(ctx, func(t eventstore.TenantEntry) error {
				head, projected, err := eventstore.New(pool).Progress(ctx, t.ID)
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
