// Package migrations holds the embedded SQL for the shared schema and the code that applies
// it: the roles, the schema, the goose-managed migrations and the database functions, all
// idempotent.
//
// Two kinds of file, two rules. A migration (NNNNN_name.sql, goose) shapes tables, indexes,
// policies and grants; once shipped it never changes: a change is a new migration. The
// first builds' migrations were squashed into 00001_baseline.sql once, before any
// production deployment (issue 16). A database function lives in exactly one file,
// functions/<name>.sql, holding its current CREATE OR REPLACE definition and its grants; a
// change to a function is an edit of that one file, which the next migrate applies because
// its checksum changed (tenantry.function_versions). Migrate runs the baseline, then the
// changed function files, then every later migration, which may therefore use any function.
// Renaming a function or changing its arguments or result type is a migration (DROP
// FUNCTION) plus the edited file.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Names of the roles and schema every other package relies on.
const (
	OwnerRole = "tenantry_owner"
	// AppRole is the internet-facing API's login: tenant data only under its tenant context.
	AppRole = "tenantry_app"
	// WorkerRole is the cross-tenant machinery's login (relay, projector, directory,
	// rebuilds, head signer, billing and webhook workers); the API process never holds it.
	WorkerRole = "tenantry_worker"
	Schema     = "tenantry"
	// DefaultPartitions is the event table's hash partition count when none is configured.
	DefaultPartitions = 16
	versionTable      = Schema + ".schema_migrations"
	// lockID keys goose's advisory lock, so concurrent migrate runs take turns.
	lockID = 0x74656e616e7472 // "tenantr"
)

//go:embed *.sql functions/*.sql
var shared embed.FS

// SharedFS is the embedded shared-schema migrations, in goose's format (goose reads the
// top level), with the function files under functions/: whatever digests it covers both.
func SharedFS() fs.FS { return shared }

// Options tunes a migrate run; the zero value is usable.
type Options struct {
	// Partitions is the events table's partition count. It only matters on the first run;
	// later runs with a different value log a warning and keep the stored count.
	Partitions int
	// AppPassword, when set, becomes tenantry_app's password. It is never logged.
	AppPassword string
	// WorkerPassword, when set, becomes tenantry_worker's password. It is never logged.
	WorkerPassword string
	Logger         *slog.Logger
	// TenantMigrations replaces the embedded tenant migrations (tests use it).
	TenantMigrations fs.FS
	// Modules are the product modules' tenant migrations (ModulesOf builds them), recorded
	// after Tenantry's own, each module's in its own numbering; a new one is appended to the
	// global order that every tenant schema applies (MigrateTenants, and new tenants).
	Modules []ModuleMigrations
	// Functions replaces the embedded function files (tests use it).
	Functions fs.FS
}

// Result says what a migrate run did.
type Result struct {
	Applied []int64 // versions applied by this run, empty when already current
	// Functions names the function files this run applied (new or changed since the last).
	Functions  []string
	Version    int64 // the shared schema version after the run
	Partitions int   // the events table's partition count
	// TenantVersion is the latest tenant migration in the global order (Tenantry's and the
	// modules' together): what new tenant schemas are created at and what `migrate
	// --tenants-only` brings existing ones to.
	TenantVersion int
}

// ErrUnknownSchemaVersion means the database records a schema version newer than any this
// release ships: built by another release (or by the migrations before the baseline squash).
var ErrUnknownSchemaVersion = errors.New("unknown schema version")

// Migrate creates the roles and the schema when missing and applies pending shared
// migrations as tenantry_owner. superURL needs a role that may create roles (a superuser, or
// CREATEROLE with CREATE on the database). Running it again changes nothing.
func Migrate(ctx context.Context, superURL string, opts Options) (Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	partitions := opts.Partitions
	if partitions == 0 {
		partitions = DefaultPartitions
	}
	if partitions < 1 || partitions > 1024 {
		return Result{}, fmt.Errorf("event partitions must be between 1 and 1024, got %d", partitions)
	}

	conn, err := connectCreatingDatabase(ctx, superURL, log)
	if err != nil {
		return Result{}, fmt.Errorf("connect for migrate: %w", ConnError("database URL", superURL, err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := bootstrap(ctx, conn, opts.AppPassword, opts.WorkerPassword); err != nil {
		return Result{}, err
	}

	cfg := conn.Config().Copy()
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
		// Every object the migrations create is owned by tenantry_owner.
		if _, err := c.Exec(ctx, "SET ROLE "+OwnerRole); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "SELECT set_config('tenantry.partitions', $1, false)", strconv.Itoa(partitions))
		return err
	}))
	defer db.Close()
	db.SetMaxOpenConns(2)

	functions := opts.Functions
	if functions == nil {
		functions = FunctionsFS()
	}
	applied, fns, version, err := runMigrations(ctx, db, conn, functions, log)
	if err != nil {
		return Result{}, err
	}
	var stored string
	if err := conn.QueryRow(ctx, `SELECT value FROM tenantry.settings WHERE key = 'event_partitions'`).Scan(&stored); err != nil {
		return Result{}, fmt.Errorf("read partition count: %w", err)
	}
	synced, err := syncTenantMigrations(ctx, conn, opts.TenantMigrations, opts.Modules)
	if err != nil {
		return Result{}, err
	}
	for _, m := range synced.Added {
		log.Info("tenant migration recorded", "module", m.Module, "file", fmt.Sprintf("%04d_%s.sql", m.Version, m.Name), "order", m.Order)
	}
	res := Result{Applied: applied, Functions: fns, Version: version, TenantVersion: synced.Latest}
	res.Partitions, _ = strconv.Atoi(stored)
	if opts.Partitions != 0 && opts.Partitions != res.Partitions {
		log.Warn("event partition count is fixed at the first migrate; ignoring the configured value",
			"configured", opts.Partitions, "in_use", res.Partitions)
	}
	return res, nil
}

// runMigrations applies the pending migrations up to the baseline, then the changed
// function files, then the remaining migrations (see the package doc for why that order).
func runMigrations(ctx context.Context, db *sql.DB, conn *pgx.Conn, functions fs.FS, log *slog.Logger) (applied []int64, fns []string, version int64, err error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID))
	if err != nil {
		return nil, nil, 0, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, shared,
		goose.WithTableName(versionTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("load migrations: %w", err)
	}
	// The migrations before the baseline squash (00001-00018, issue 16) were replaced by
	// 00001_baseline: a database they built records versions this release does not have and
	// lacks what the baseline adds. There were no production deployments then; say so
	// instead of failing somewhere in the function files.
	if current, err := p.GetDBVersion(ctx); err != nil {
		return nil, nil, 0, fmt.Errorf("read schema version: %w", err)
	} else if sources := p.ListSources(); len(sources) > 0 && current > sources[len(sources)-1].Version {
		return nil, nil, 0, fmt.Errorf("%w: the database is at schema version %d, this release knows versions up to %d; "+
			"it was built by a release before the baseline squash: recreate it (`make clean-data`, or drop the database)",
			ErrUnknownSchemaVersion, current, sources[len(sources)-1].Version)
	}
	results, err := p.UpTo(ctx, baselineVersion)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("apply migrations: %w", err)
	}
	if fns, err = applyFunctions(ctx, conn, functions); err != nil {
		return nil, nil, 0, err
	}
	for _, f := range fns {
		log.Info("database function applied", "file", "functions/"+f+".sql")
	}
	rest, err := p.Up(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range append(results, rest...) {
		applied = append(applied, r.Source.Version)
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took_ms", float64(r.Duration)/float64(time.Millisecond))
	}
	version, err = p.GetDBVersion(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read schema version: %w", err)
	}
	return applied, fns, version, nil
}

// bootstrap creates the owner and the two runtime roles and the schema, and makes sure
// their safety attributes hold even if someone created the roles by hand before. Roles are
// cluster-wide, so concurrent runs against other databases of the same cluster may race:
// retry those.
func bootstrap(ctx context.Context, conn *pgx.Conn, appPassword, workerPassword string) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = bootstrapOnce(ctx, conn, appPassword, workerPassword); err == nil || !isRace(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("bootstrap roles and schema: %w", err)
	}
	return nil
}

const bootstrapSQL = `
DO $$
DECLARE
    r record;
    runtime text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantry_owner') THEN
        CREATE ROLE tenantry_owner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    SELECT rolsuper, rolbypassrls INTO r FROM pg_roles WHERE rolname = 'tenantry_owner';
    IF r.rolsuper OR r.rolbypassrls THEN
        ALTER ROLE tenantry_owner NOSUPERUSER NOBYPASSRLS;
    END IF;
    -- The runtime logins: tenantry_app for the API, tenantry_worker for the cross-tenant
    -- machinery. Same attributes; neither can become the owner (who could disable RLS) nor
    -- the other (the API must never hold the worker's powers).
    FOREACH runtime IN ARRAY ARRAY['tenantry_app', 'tenantry_worker'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = runtime) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION', runtime);
        END IF;
        SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin
          INTO r FROM pg_roles WHERE rolname = runtime;
        IF r.rolsuper OR r.rolbypassrls OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR NOT r.rolcanlogin THEN
            EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION', runtime);
        END IF;
        IF pg_has_role(runtime, 'tenantry_owner', 'MEMBER') THEN
            EXECUTE format('REVOKE tenantry_owner FROM %I', runtime);
        END IF;
        IF NOT has_database_privilege(runtime, current_database(), 'CONNECT') THEN
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), runtime);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_auth_members m
                WHERE m.roleid = 'tenantry_worker'::regrole AND m.member = 'tenantry_app'::regrole) THEN
        REVOKE tenantry_worker FROM tenantry_app;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_auth_members m
                WHERE m.roleid = 'tenantry_app'::regrole AND m.member = 'tenantry_worker'::regrole) THEN
        REVOKE tenantry_app FROM tenantry_worker;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'tenantry_owner', 'MEMBER') THEN
        EXECUTE format('GRANT tenantry_owner TO %I', current_user);
    END IF;
    IF NOT has_database_privilege('tenantry_owner', current_database(), 'CREATE') THEN
        EXECUTE format('GRANT CREATE, CONNECT, TEMPORARY ON DATABASE %I TO tenantry_owner', current_database());
    END IF;
END
$$;
CREATE SCHEMA IF NOT EXISTS tenantry AUTHORIZATION tenantry_owner;
`

func bootstrapOnce(ctx context.Context, conn *pgx.Conn, appPassword, workerPassword string) error {
	if _, err := conn.Exec(ctx, bootstrapSQL); err != nil {
		return err
	}
	if err := setPassword(ctx, conn, AppRole, appPassword); err != nil {
		return err
	}
	return setPassword(ctx, conn, WorkerRole, workerPassword)
}

// setPassword gives role its password when one is configured. Neither the password nor the
// statement that holds it ever reaches an error message or a log.
func setPassword(ctx context.Context, conn *pgx.Conn, role, password string) error {
	if password == "" {
		return nil
	}
	// Utility statements take no parameters: let the server quote the literal.
	var stmt string
	if err := conn.QueryRow(ctx, `SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)`, role, password).Scan(&stmt); err != nil {
		return fmt.Errorf("prepare %s password: %w", role, err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("set %s password failed", role) // the statement holds the secret
	}
	return nil
}

// isRace reports the errors two concurrent bootstraps against one cluster can produce.
func isRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42710", "23505", "40001", "40P01", "XX000": // duplicate_object, unique_violation, serialization, deadlock, "tuple concurrently updated"
		return true
	}
	return false
}

// connectCreatingDatabase connects to superURL, creating its database first (from the
// server's "postgres" maintenance database) when it does not exist yet.
func connectCreatingDatabase(ctx context.Context, superURL string, log *slog.Logger) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, superURL)
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return conn, err
	}
	cfg, perr := pgx.ParseConfig(superURL)
	if perr != nil {
		return nil, perr
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, aerr := pgx.ConnectConfig(ctx, cfg)
	if aerr != nil {
		return nil, fmt.Errorf("%w (and could not reach the maintenance database to create it: %v)", err, aerr)
	}
	_, cerr := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	admin.Close(ctx)
	if cerr != nil && !(errors.As(cerr, &pgErr) && pgErr.Code == "42P04") { // duplicate_database: a concurrent run made it
		return nil, fmt.Errorf("create database %q: %w", name, cerr)
	}
	log.Info("database created", "database", name)
	return pgx.Connect(ctx, superURL)
}
