// Package platform is Tenantry's composition root: the command line (API, projector,
// workers, migrations and operator tools), the one place that reads the environment and
// wires every package. Binaries are thin: cmd/tenantry calls Main(), and a team's own
// binary calls Main with its products (issue 18), so that both run the same platform.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lmittmann/tint"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/domain/app/logctx"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/product"
	"github.com/tenantry/tenantry/migrations"
)

// Main runs the tenantry command line with products in this process: the command and flags
// of os.Args, the environment, stopped by SIGINT or SIGTERM; it exits the process with the
// command's status (see exitCode) when the command fails.
func Main(products ...product.Product) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewCommand(os.Getenv, os.Stdout, os.Stderr, products...).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tenantry:", err)
		os.Exit(exitCode(err))
	}
}

// Exit codes of every command: 0 done; 1 the command ran and failed (a verification or check
// that found a problem, a database error, an unknown tenant); 2 usage (an unknown command or
// flag, a missing required flag, a bad flag value, an input file that cannot be read).
// `audit verify` thereby tells "tampering found" (1) from "no verdict" (2), so that a script
// never reads a missing file as an attack.

// exitError makes the process exit with code instead of 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errorExitCode, in a command's annotations, is the exit status of its usage and
// configuration errors ("2" for `audit verify`; otherwise 1).
const errorExitCode = "tenantry.error_exit_code"

// exitCode is the process's exit status for err returned by a command.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// app carries what every subcommand needs, built once from the environment.
type app struct {
	cfg    Config
	log    *slog.Logger
	stdout io.Writer
	// databaseURL is --database-url of the command that runs (see dburl.go).
	databaseURL string
	// products are the products this binary runs besides Tenantry's own areas (issue 18);
	// productsErr is what is wrong with them (checkProducts), returned by every command.
	products    []product.Product
	productsErr error
}

// productsChecked is the PersistentPreRunE of the commands that need no configuration: it
// refuses to run them with products that are not valid, as every other command does (exit
// status 1: the binary's configuration is wrong, not its command line).
func (a *app) productsChecked(*cobra.Command, []string) error { return a.productsErr }

// NewCommand is the root command of the command line (what Main executes) with products,
// reading the environment through getenv and writing to stdout and stderr: for tests, and
// for a team that adds its own subcommands before executing it.
func NewCommand(getenv func(string) string, stdout, stderr io.Writer, products ...product.Product) *cobra.Command {
	a := &app{stdout: stdout, products: products, productsErr: checkProducts(products)}
	root := &cobra.Command{
		Use:           "tenantry",
		Short:         "Event-sourced multi-tenant SaaS backbone",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := a.productsChecked(cmd, args); err != nil {
				return err
			}
			env, from, err := a.databaseEnv(cmd, getenv)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(env)
			if err != nil {
				if code, ok := cmd.Annotations[errorExitCode]; ok && code == "2" {
					return &exitError{code: 2, err: err}
				}
				return err
			}
			a.cfg = cfg
			a.log = newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
			if from != "" {
				a.log.Debug("database", "url", migrations.Redact(cfg.DatabaseURL), "from", from)
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Unknown flags, bad flag values and unknown subcommands are usage errors (exit 2);
	// cobra inherits the flag error function down the tree.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	group(root)
	root.AddCommand(a.withDatabaseURL(a.migrateCmd()), a.withDatabaseURL(a.serveCmd()), a.projectionsCmd(), a.withDatabaseURL(a.workerCmd()),
		a.billingCmd(), a.auditCmd(), a.tenantsCmd(), a.withDatabaseURL(a.apiCmd()), a.withDatabaseURL(a.projectorCmd()), a.versionCmd(), a.openapiCmd(), a.plansCmd())
	return root
}

// group makes cmd, a command that only holds subcommands, refuse what is not one of them:
// cobra would print the help and exit 0 for `tenantry tenants lst`. Without a subcommand it
// prints the help and exits 2 too, so that a script never mistakes it for done.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
			if c.SuggestionsMinimumDistance <= 0 {
				c.SuggestionsMinimumDistance = 2
			}
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return usageErr(errors.New(msg + "; see " + c.CommandPath() + " --help"))
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		c.SetOut(c.ErrOrStderr())
		_ = c.Help()
		return usageErr(fmt.Errorf("give a subcommand of %s", c.CommandPath()))
	}
	return cmd
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	// logctx adds the tenant and request ids a context carries to every line logged with it.
	if format == "text" {
		return slog.New(logctx.NewHandler(tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly})))
	}
	return slog.New(logctx.NewHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

func (a *app) migrateCmd() *cobra.Command {
	var tenantsOnly bool
	var concurrency int
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the roles and schema, apply pending migrations, and bring every tenant schema up to date (idempotent)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := a.cfg.adminURL()
			if err != nil {
				return err
			}
			if concurrency < 1 || concurrency > 256 {
				return usageErr(fmt.Errorf("--concurrency must be between 1 and 256, got %d", concurrency))
			}
			if !tenantsOnly {
				res, err := migrations.Migrate(cmd.Context(), admin, migrations.Options{
					Partitions:     a.cfg.Partitions,
					AppPassword:    passwordOf(a.cfg.AppDatabaseURL),
					WorkerPassword: passwordOf(a.cfg.WorkerDatabaseURL),
					Logger:         a.log,
					Modules:        migrations.ModulesOf(a.modules()),
				})
				if err != nil {
					return err
				}
				a.log.Info("shared schema migrated", "database", migrations.Redact(admin), "version", res.Version,
					"applied", len(res.Applied), "event_partitions", res.Partitions, "tenant_version", res.TenantVersion)
			}
			return a.migrateTenants(cmd.Context(), admin, concurrency)
		},
	}
	cmd.Flags().BoolVar(&tenantsOnly, "tenants-only", false, "only bring tenant schemas up to date")
	cmd.Flags().IntVar(&concurrency, "concurrency", 4, "tenant schemas migrated in parallel")
	return cmd
}

// migrateTenants runs the tenant migrations with a progress bar on a terminal and plain
// progress lines otherwise, and lists every failed tenant at the end.
func (a *app) migrateTenants(ctx context.Context, admin string, concurrency int) error {
	start := time.Now()
	progress := a.progress("tenant schemas migrated")
	rep, err := migrations.MigrateTenants(ctx, admin, migrations.TenantOptions{Concurrency: concurrency, Progress: progress, Modules: migrations.ModulesOf(a.modules())})
	for _, f := range rep.Failed {
		a.log.Error("tenant schema not migrated", "tenant_id", f.Tenant, "err", f.Err)
	}
	a.log.Info("tenant schemas migrated", "pending", rep.Pending, "migrated", rep.Migrated,
		"failed", len(rep.Failed), "version", rep.Latest, "took_ms", float64(time.Since(start))/float64(time.Millisecond))
	return err
}

// progress reports the progress of a long operation: a bar on a terminal, a log line every
// 10% (and at the end) otherwise.
func (a *app) progress(what string) func(done, total int) {
	if isTerminal(os.Stderr) {
		var bar *progressbar.ProgressBar
		return func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetDescription(what),
					progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowCount(), progressbar.OptionSetElapsedTime(true),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }))
			}
			_ = bar.Set(done)
		}
	}
	last := -1
	return func(done, total int) {
		if pct := done * 10 / total; pct != last || done == total {
			last = pct
			a.log.Info("progress", "what", what, "done", done, "total", total)
		}
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// passwordOf extracts the password of a runtime URL so migrate can give it to its role.
func passwordOf(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// openStore opens a runtime pool for purpose (see runtimePool) and a store over it that
// sends each append on its own, for the commands that act once and exit; close releases
// the pool.
func (a *app) openStore(ctx context.Context, purpose eventstore.Purpose) (_ *eventstore.Store, close func(), _ error) {
	url, cfg, err := a.runtimePool(purpose)
	if err != nil {
		return nil, nil, err
	}
	pool, err := eventstore.OpenPool(ctx, url, cfg)
	if err != nil {
		return nil, nil, err
	}
	return eventstore.New(pool), pool.Close, nil
}

// runtimePool is the URL and pool settings of the runtime role for purpose: tenantry_app
// for the API (and the commands that act as the API does for one tenant), tenantry_worker
// for the cross-tenant machinery. eventstore.OpenPool refuses to go on if that role could
// bypass row-level security or does not suit the purpose.
func (a *app) runtimePool(purpose eventstore.Purpose) (string, eventstore.PoolConfig, error) {
	rawURL, setting, err := a.cfg.runtimeURL(purpose)
	if err != nil {
		return "", eventstore.PoolConfig{}, err
	}
	return rawURL, eventstore.PoolConfig{Purpose: purpose, Setting: setting,
		MaxConns: a.cfg.DBMaxConns, MaxConnLifetime: a.cfg.DBMaxConnLifetime, MaxConnIdleTime: a.cfg.DBMaxConnIdleTime,
		MaxConnUses: a.cfg.DBMaxConnUses,
		// Operators (and the cluster test) can tell processes apart in pg_stat_activity.
		ApplicationName: fmt.Sprintf("tenantry-%d", os.Getpid())}, nil
}

// openRuntime is openStore with the registry of the domain's events.
func (a *app) openRuntime(ctx context.Context, purpose eventstore.Purpose) (*eventstore.Store, *eventstore.Registry, func(), error) {
	registry, err := a.domainRegistry()
	if err != nil {
		return nil, nil, nil, err
	}
	store, closeStore, err := a.openStore(ctx, purpose)
	if err != nil {
		return nil, nil, nil, err
	}
	return store, registry, closeStore, nil
}
