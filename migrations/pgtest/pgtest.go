// Package pgtest gives tests their own real PostgreSQL database, cloned from a migrated
// template that is built once per migration set and shared by every test process.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/migrations"

	"github.com/tenantry/tenantry/eventstore/pguuid"
)

// DefaultURL is used when DATABASE_URL is unset: the machine's own PostgreSQL.
const DefaultURL = "postgres://root@127.0.0.1:5432/postgres?sslmode=disable"

// DB is one migrated database of the test cluster.
type DB struct {
	Name      string
	SuperURL  string // a superuser, for set-up and for tests that must step around the rules
	AppURL    string // tenantry_app, the API's runtime role
	WorkerURL string // tenantry_worker, the cross-tenant machinery's runtime role
}

// BaseURL is the administrative URL tests connect to.
func BaseURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	templateMu   sync.Mutex
	templateName string
)

// template returns the migrated template's name, building it when this process has not
// yet or when rebuild is set: another checkout with other migrations on the same server
// may have dropped ours as stale (see dropStale), and its clone then fails with 3D000.
func template(ctx context.Context, base string, rebuild bool) (string, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateName == "" || rebuild {
		name, err := ensureTemplate(ctx, base)
		if err != nil {
			return "", err
		}
		templateName = name
	}
	return templateName, nil
}

// Create clones a fresh database from the template. Callers drop it with Drop.
func Create(ctx context.Context) (*DB, error) {
	base := BaseURL()
	tmpl, err := template(ctx, base, false)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("tenantry_test_%d_%s", time.Now().Unix(), randomHex(6))
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (is PostgreSQL running? `make test` starts one): %w", migrations.Redact(base), err)
	}
	defer conn.Close(ctx)
	rebuilt := false
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize())
		var pgErr *pgconn.PgError
		if err != nil && !rebuilt && errors.As(err, &pgErr) && pgErr.Code == "3D000" {
			rebuilt = true // dropped by another checkout's test run: build it again, once
			if tmpl, err = template(ctx, base, true); err != nil {
				return nil, err
			}
			continue
		}
		if err == nil || attempt > 50 || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			break
		}
		time.Sleep(100 * time.Millisecond) // template briefly in use by another clone
	}
	if err != nil {
		return nil, fmt.Errorf("create test database: %w", err)
	}
	super, err := migrations.WithDatabase(base, name)
	if err != nil {
		return nil, err
	}
	// Database-level grants are not copied from a template: a no-op migrate restores them.
	if _, err := migrations.Migrate(ctx, super, migrations.Options{}); err != nil {
		return nil, fmt.Errorf("migrate clone: %w", err)
	}
	app, err := migrations.AppURL(super, "")
	if err != nil {
		return nil, err
	}
	worker, err := migrations.WorkerURL(super, "")
	if err != nil {
		return nil, err
	}
	return &DB{Name: name, SuperURL: super, AppURL: app, WorkerURL: worker}, nil
}

// Drop removes the database, disconnecting whoever is still connected.
func (d *DB) Drop(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	return err
}

// New gives one test its own database, dropped when the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Create(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil {
			t.Logf("pgtest: drop %s: %v", db.Name, err)
		}
	})
	return db
}

// Run is a TestMain body: it creates one database for the package, stores it in *db, runs
// the tests and drops it. A fuzzing worker process (`go test -fuzz` starts one per CPU,
// each running TestMain) gets none: it only runs the fuzz target, which must not use the
// package's database (*db stays nil), and cloning one per worker would only add load.
func Run(m *testing.M, db **DB) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run()
	}
	ctx := context.Background()
	d, err := Create(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	*db = d
	code := m.Run()
	if err := d.Drop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: drop:", err)
	}
	return code
}

// Pool opens a pool on url, closed when the test ends.
func Pool(t testing.TB, url string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.AfterConnect = pguuid.AfterConnect
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ensureTemplate builds, once per migration set and cluster, a migrated template database.
// A cluster-wide advisory lock (all test processes connect to the same admin database)
// makes concurrent test binaries wait for one builder.
func ensureTemplate(ctx context.Context, base string) (string, error) {
	// SharedFS holds the function files too (functions/): editing one builds a new template.
	shared, err := migrationsDigest(migrations.SharedFS())
	if err != nil {
		return "", err
	}
	tenant, err := migrationsDigest(migrations.TenantFS())
	if err != nil {
		return "", err
	}
	name := "tenantry_tmpl_" + shared[:10] + tenant[:6]
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect to %s (is PostgreSQL running? `make test` starts one): %w", migrations.Redact(base), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7465737474)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7465737474)")

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	dropStale(ctx, conn)
	build := name + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{build}.Sanitize()+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{build}.Sanitize()); err != nil {
		return "", err
	}
	url, err := migrations.WithDatabase(base, build)
	if err != nil {
		return "", err
	}
	if _, err := migrations.Migrate(ctx, url, migrations.Options{}); err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{build}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return name, nil
}

// dropStale removes templates of older migration sets and test databases left behind by
// killed runs (their names carry their creation time; no test run lasts two hours). A
// template is dropped only two hours after it was built (its directory's PG_VERSION file
// is written then): checkouts with other migrations, testing on the same server at the
// same time, each keep theirs.
func dropStale(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'tenantry\_test\_%'
		OR (datname LIKE 'tenantry\_tmpl\_%' AND (pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification < now() - interval '2 hours')`)
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, n := range names {
		if strings.HasPrefix(n, "tenantry_test_") {
			parts := strings.Split(n, "_")
			created, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil || time.Since(time.Unix(created, 0)) < 2*time.Hour {
				continue
			}
		}
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
	}
}

func migrationsDigest(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Until calls cond every tick until it returns true, and fails the test when it has not
// within timeout. Unlike testify's Eventually, which runs its condition on goroutines of
// its own, cond runs on the caller's (test) goroutine, so it may use require: a failed
// assertion inside it ends the test at once instead of leaving Eventually to wait out its
// whole timeout for an answer that never comes.
func Until(t testing.TB, timeout, tick time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			if len(msgAndArgs) > 0 {
				format, _ := msgAndArgs[0].(string)
				msg = ": " + fmt.Sprintf(format, msgAndArgs[1:]...)
			}
			t.Fatalf("condition not met within %v%s", timeout, msg)
		}
		time.Sleep(tick)
	}
}
