package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/eventstore/pguuid"
)

//go:embed tenant/*.sql
var tenantFiles embed.FS

// TenantFS is the embedded tenant-schema migrations (migrations/tenant/NNNN_name.sql).
func TenantFS() fs.FS {
	sub, err := fs.Sub(tenantFiles, "tenant")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

var tenantFileRE = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// TenantMigration is one file of migrations/tenant.
type TenantMigration struct {
	Version int
	Name    string
	SQL     string
}

// LoadTenantMigrations reads and orders the tenant migrations of fsys; versions must be
// unique and file names shaped NNNN_name.sql.
func LoadTenantMigrations(fsys fs.FS) ([]TenantMigration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read tenant migrations: %w", err)
	}
	var out []TenantMigration
	seen := map[int]string{}
	for _, e := range entries {
		m := tenantFileRE.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			return nil, fmt.Errorf("tenant migration %q: want a file named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if v == 0 || seen[v] != "" {
			return nil, fmt.Errorf("tenant migration %q: version %d is zero or used twice", e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, TenantMigration{Version: v, Name: m[2], SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// TenantOptions tunes MigrateTenants.
type TenantOptions struct {
	// Concurrency is how many schemas migrate at once (default 4).
	Concurrency int
	// Progress, when set, is called after each schema with the counts so far.
	Progress func(done, total int)
	// LockTimeout bounds how long one schema waits for a table lock held by API traffic
	// before it retries (default 2s); attempts are capped at 5.
	LockTimeout time.Duration
	// TenantMigrations replaces the embedded tenant migrations (tests use it).
	TenantMigrations fs.FS
	// Modules are the product modules' tenant migrations, recorded after Tenantry's own
	// (see Options.Modules) before the schemas are brought up to date.
	Modules []ModuleMigrations
}

// TenantFailure is one schema that could not be migrated.
type TenantFailure struct {
	Tenant uuid.UUID
	Err    error
}

// TenantReport is the outcome of MigrateTenants.
type TenantReport struct {
	Latest   int
	Pending  int
	Migrated int
	Failed   []TenantFailure
}

// ErrTenantMigrations is returned (wrapped) when some schemas failed; the report lists them.
var ErrTenantMigrations = errors.New("some tenant schemas failed to migrate")

// MigrateTenants brings every tenant schema to the latest tenant migration, Concurrency at a
// time, each schema in its own transaction. With nothing to do it costs one query. A failing
// schema does not stop the others; failures are in the report and the error.
func MigrateTenants(ctx context.Context, superURL string, opts TenantOptions) (TenantReport, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(superURL)
	if err != nil {
		return TenantReport{}, ConnError("database URL", superURL, err)
	}
	cfg.MaxConns = int32(opts.Concurrency)
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(opts.LockTimeout.Milliseconds(), 10)
	cfg.AfterConnect = pguuid.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return TenantReport{}, err
	}
	defer pool.Close()

	var rep TenantReport
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return rep, err
	}
	synced, err := syncTenantMigrations(ctx, conn.Conn(), opts.TenantMigrations, opts.Modules)
	conn.Release()
	if err != nil {
		return rep, err
	}
	rep.Latest = synced.Latest
	rows, err := pool.Query(ctx, `SELECT tenant_id FROM tenantry.tenant_schemas WHERE version < $1 ORDER BY tenant_id`, rep.Latest)
	if err != nil {
		return rep, fmt.Errorf("list pending tenant schemas: %w", err)
	}
	pending, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return rep, err
	}
	rep.Pending = len(pending)
	if len(pending) == 0 {
		return rep, nil
	}

	work := make(chan uuid.UUID)
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := 0
	for w := 0; w < opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				err := migrateOneTenant(ctx, pool, id)
				mu.Lock()
				done++
				if err != nil {
					rep.Failed = append(rep.Failed, TenantFailure{Tenant: id, Err: err})
				} else {
					rep.Migrated++
				}
				if opts.Progress != nil {
					opts.Progress(done, len(pending))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, id := range pending {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	sort.Slice(rep.Failed, func(i, j int) bool { return rep.Failed[i].Tenant.String() < rep.Failed[j].Tenant.String() })
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%w: %d of %d", ErrTenantMigrations, len(rep.Failed), rep.Pending)
	}
	return rep, nil
}

// migrateOneTenant runs the schema's pending migrations in one transaction, retrying when
// a lock held by live traffic times out.
func migrateOneTenant(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		_, err = pool.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || (pgErr.Code != "55P03" && pgErr.Code != "40P01") {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}
