package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// createTenant records tenant.created for a fresh tenant and provisions its schema as the
// projector's role (tenantry_worker), the way the projector does.
func createTenant(t *testing.T, app *pgxpool.Pool) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := eventstore.New(app).Append(context.Background(), id, "tenant", eventstore.NoStream,
		eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	var v int
	require.NoError(t, app.QueryRow(context.Background(), `SELECT tenantry.migrate_tenant_schema($1)`, id).Scan(&v))
	require.Equal(t, latestTenantVersion(t), v)
	return id
}

// latestTenantVersion is the version of the last embedded tenant migration.
func latestTenantVersion(t *testing.T) int {
	t.Helper()
	ms, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	return ms[len(ms)-1].Version
}

// nextTenantMigration names a tenant migration file that comes after the embedded ones.
func nextTenantMigration(t *testing.T, name string) string {
	return fmt.Sprintf("%04d_%s.sql", latestTenantVersion(t)+1, name)
}

func schemaOf(id uuid.UUID) string {
	return "tenant_" + fmt.Sprintf("%x", id[:])
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestProvisioning_CreatesAnIsolatedSchemaOnce(t *testing.T) {
	db := pgtest.New(t)
	app := pgtest.Pool(t, db.WorkerURL, 4)
	super := connect(t, db.SuperURL)
	ctx := context.Background()
	id := createTenant(t, app)
	schema := schemaOf(id)

	// Again: nothing to do, same version.
	var v int
	require.NoError(t, app.QueryRow(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id).Scan(&v))
	require.Equal(t, latestTenantVersion(t), v)

	var owner string
	require.NoError(t, super.QueryRow(ctx, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&owner))
	require.Equal(t, "tenantry_owner", owner)

	rows, err := super.Query(ctx, `
		SELECT c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity AND c.relforcerowsecurity,
		       has_table_privilege('tenantry_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE'),
		       has_table_privilege('tenantry_app', c.oid, 'TRUNCATE') OR has_table_privilege('tenantry_app', c.oid, 'REFERENCES') OR has_table_privilege('tenantry_app', c.oid, 'TRIGGER')
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`, schema)
	require.NoError(t, err)
	tables := 0
	for rows.Next() {
		var name, owner string
		var forced, dml, more bool
		require.NoError(t, rows.Scan(&name, &owner, &forced, &dml, &more))
		require.Equal(t, "tenantry_owner", owner, name)
		require.True(t, forced, "%s has forced RLS", name)
		require.True(t, dml, "%s: app has DML", name)
		require.False(t, more, "%s: app has nothing beyond DML", name)
		tables++
	}
	require.NoError(t, rows.Err())
	require.GreaterOrEqual(t, tables, 7)
}

func TestProvisioning_RefusesATenantThatWasNeverCreated(t *testing.T) {
	db := pgtest.New(t)
	app := pgtest.Pool(t, db.WorkerURL, 1)
	_, err := app.Exec(context.Background(), `SELECT tenantry.migrate_tenant_schema($1)`, uuid.New())
	require.Equal(t, "TYP01", pgCode(err), "%v", err)
	_, err = app.Exec(context.Background(), `CREATE SCHEMA tenant_00000000000000000000000000000000`)
	require.Equal(t, "42501", pgCode(err), "the runtime role runs no DDL of its own: %v", err)
}

// RLS is the second line: a query aimed at the wrong schema still sees nothing foreign.
func TestTenantSchemas_WrongSearchPathStillSeesNothingForeign(t *testing.T) {
	db := pgtest.New(t)
	app := pgtest.Pool(t, db.WorkerURL, 1)
	ctx := context.Background()
	a, b := createTenant(t, app), createTenant(t, app)
	for _, id := range []uuid.UUID{a, b} {
		require.NoError(t, pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, id.String()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schemaOf(id), "members"}.Sanitize()+
				` (tenant_id, member_id, email, role, joined_at) VALUES ($1, $2, $3, 'admin', now())`, id, uuid.New(), id.String()+"@example.com")
			return err
		}))
	}

	err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, a.String()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, schemaOf(b)); err != nil {
			return err
		}
		var n int
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM members`).Scan(&n))
		require.Zero(t, n, "A's context in B's schema sees none of B's rows")
		_, err := tx.Exec(ctx, `UPDATE members SET role = 'viewer'`)
		require.NoError(t, err) // matches nothing
		_, err = tx.Exec(ctx, `INSERT INTO members (tenant_id, member_id, email, role, joined_at) VALUES ($1, $2, 'x@example.com', 'admin', now())`, b, uuid.New())
		return err
	})
	require.Equal(t, "42501", pgCode(err), "writes into B refused: %v", err)

	// One connection alternating tenants never sees the other's rows.
	for i := 0; i < 1000; i++ {
		id, other := a, b
		if i%2 == 1 {
			id, other = b, a
		}
		require.NoError(t, pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, id.String()); err != nil {
				return err
			}
			var mine, foreign int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schemaOf(id), "members"}.Sanitize()).Scan(&mine); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schemaOf(other), "members"}.Sanitize()).Scan(&foreign); err != nil {
				return err
			}
			require.Equal(t, 1, mine)
			require.Zero(t, foreign)
			return nil
		}))
	}
}

// withTenantMigrations is the embedded tenant migrations plus extra files.
func withTenantMigrations(t *testing.T, extra map[string]string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	base, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	require.NoError(t, err)
	for _, tm := range base {
		m[fmt.Sprintf("%04d_%s.sql", tm.Version, tm.Name)] = &fstest.MapFile{Data: []byte(tm.SQL)}
	}
	for name, sql := range extra {
		m[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return m
}

func TestMigrateTenants_AFailingSchemaDoesNotStopTheOthers(t *testing.T) {
	db := pgtest.New(t)
	app := pgtest.Pool(t, db.WorkerURL, 4)
	super := connect(t, db.SuperURL)
	ctx := context.Background()
	var ids []uuid.UUID
	for i := 0; i < 6; i++ {
		ids = append(ids, createTenant(t, app))
	}

	// Nothing pending: one query, no work.
	rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Concurrency: 3})
	require.NoError(t, err)
	require.Zero(t, rep.Pending)

	// Ship the next migration; sabotage one schema so it fails there.
	cur := latestTenantVersion(t)
	fsys := withTenantMigrations(t, map[string]string{
		nextTenantMigration(t, "member_title"): `ALTER TABLE members ADD COLUMN title text;`,
	})
	res, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{TenantMigrations: fsys})
	require.NoError(t, err)
	require.Equal(t, cur+1, res.TenantVersion)
	broken := ids[3]
	_, err = super.Exec(ctx, `ALTER TABLE `+pgx.Identifier{schemaOf(broken), "members"}.Sanitize()+` ADD COLUMN title integer`)
	require.NoError(t, err)

	var calls int
	rep, err = migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Concurrency: 3,
		Progress: func(done, total int) { calls++; require.Equal(t, 6, total) }})
	require.ErrorIs(t, err, migrations.ErrTenantMigrations)
	require.Equal(t, 6, rep.Pending)
	require.Equal(t, 5, rep.Migrated)
	require.Len(t, rep.Failed, 1)
	require.Equal(t, broken, rep.Failed[0].Tenant)
	require.ErrorContains(t, rep.Failed[0].Err, "title")
	require.Equal(t, 6, calls)

	var versions []int
	rows, err := super.Query(ctx, `SELECT version FROM tenantry.tenant_schemas WHERE tenant_id = ANY($1) ORDER BY tenant_id = $2, tenant_id`, ids, broken)
	require.NoError(t, err)
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{cur + 1, cur + 1, cur + 1, cur + 1, cur + 1, cur}, versions, "the broken schema stays where it was, whole")

	// Fixed by hand, the next run resumes with just that schema.
	_, err = super.Exec(ctx, `ALTER TABLE `+pgx.Identifier{schemaOf(broken), "members"}.Sanitize()+` DROP COLUMN title`)
	require.NoError(t, err)
	rep, err = migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pending)
	require.Equal(t, 1, rep.Migrated)

	// A new tenant starts at the latest version.
	id := uuid.Must(uuid.NewV7())
	_, err = eventstore.New(app).Append(ctx, id, "tenant", eventstore.NoStream,
		eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	var v int
	require.NoError(t, app.QueryRow(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id).Scan(&v))
	require.Equal(t, cur+1, v)
}

// A tenant migration leaving a table without forced row-level security is refused before
// it is recorded (on a trial schema, with the check every tenant schema gets), so it
// reaches no tenant.
func TestMigrateTenants_RefusesATableWithoutRLS(t *testing.T) {
	db := pgtest.New(t)
	app := pgtest.Pool(t, db.WorkerURL, 2)
	ctx := context.Background()
	id := createTenant(t, app)
	fsys := withTenantMigrations(t, map[string]string{
		nextTenantMigration(t, "leaky"): `CREATE TABLE notes (tenant_id uuid NOT NULL, body text);`,
	})
	_, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{TenantMigrations: fsys})
	require.ErrorIs(t, err, migrations.ErrTenantMigrationRefused)
	require.Equal(t, "TYP02", pgCode(err), "%v", err)
	rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{})
	require.NoError(t, err)
	require.Empty(t, rep.Failed)
	var notes int
	require.NoError(t, app.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relname = 'notes' AND n.nspname = $1`, schemaOf(id)).Scan(&notes))
	require.Zero(t, notes)
}

func TestMigrate_RefusesAnEditedTenantMigration(t *testing.T) {
	db := pgtest.New(t)
	fsys := withTenantMigrations(t, nil)
	fsys.(fstest.MapFS)["0001_read_models.sql"] = &fstest.MapFile{Data: []byte("-- edited\n")}
	_, err := migrations.Migrate(context.Background(), db.SuperURL, migrations.Options{TenantMigrations: fsys})
	require.ErrorContains(t, err, "differs from the one already applied")
}

// Live traffic on a tenant's tables delays its migration instead of queueing behind it: the
// ALTER gives up after LockTimeout, so a reader that arrives while it waits for its lock is
// blocked at most that long (without the timeout PostgreSQL queues every later reader behind
// the waiting ALTER until the long read ends), and it is retried until the table is free.
func TestMigrateTenants_RetriesInsteadOfQueueingReadersBehindItsAlter(t *testing.T) {
	const (
		lockTimeout = 100 * time.Millisecond
		hold        = 1500 * time.Millisecond // within the 5 attempts' back-off (~2.4 s)
		readerBound = 700 * time.Millisecond  // lockTimeout plus slack for a loaded machine
	)
	db := pgtest.New(t)
	app := pgtest.Pool(t, db.WorkerURL, 4)
	super := connect(t, db.SuperURL)
	ctx := context.Background()
	id := createTenant(t, app)
	members := pgx.Identifier{schemaOf(id), "members"}.Sanitize()
	fsys := withTenantMigrations(t, map[string]string{
		nextTenantMigration(t, "member_title"): `ALTER TABLE members ADD COLUMN title text;`,
	})
	_, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{TenantMigrations: fsys})
	require.NoError(t, err)

	// tenantRead reads the members table in the tenant's context, as API traffic does.
	tenantRead := func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, id.String()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT count(*) FROM `+members)
		return err
	}

	// A long read holds the table for `hold`.
	long, err := app.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tenantRead(ctx, long))
	released := make(chan time.Time, 1)
	time.AfterFunc(hold, func() {
		released <- time.Now()
		_ = long.Rollback(ctx)
	})

	type outcome struct {
		rep migrations.TenantReport
		err error
	}
	migrated := make(chan outcome, 1)
	start := time.Now()
	go func() {
		rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{LockTimeout: lockTimeout})
		migrated <- outcome{rep, err}
	}()

	// attempts are the distinct transactions seen waiting for a lock on the table while the
	// long read holds it.
	attempts := map[time.Time]bool{}
	waiting := func() bool {
		rows, err := super.Query(ctx, `SELECT a.xact_start FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			 WHERE NOT l.granted AND l.relation = $1::regclass`, members)
		require.NoError(t, err)
		starts, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		require.NoError(t, err)
		for _, s := range starts {
			attempts[s] = true
		}
		return len(starts) > 0
	}
	require.Eventually(t, waiting, hold/2, time.Millisecond, "the migration's ALTER waits for the long read's lock")

	// A reader arriving now is not queued behind the waiting ALTER.
	readCtx, cancel := context.WithTimeout(ctx, 2*readerBound)
	readStart := time.Now()
	err = pgx.BeginFunc(readCtx, app, func(tx pgx.Tx) error { return tenantRead(readCtx, tx) })
	read := time.Since(readStart)
	cancel()
	require.NoError(t, err, "a reader queued behind the waiting ALTER (read for %v)", read)
	require.Less(t, read, readerBound, "a reader waited behind the ALTER for more than its lock timeout")

	// The migration gave up its wait and tried again while the long read still held the table.
	for len(attempts) < 2 && time.Since(start) < hold-100*time.Millisecond {
		waiting()
		time.Sleep(5 * time.Millisecond)
	}
	require.GreaterOrEqual(t, len(attempts), 2, "the ALTER gave up after its lock timeout and was retried")

	out := <-migrated
	require.NoError(t, out.err)
	require.Equal(t, 1, out.rep.Migrated)
	require.False(t, (<-released).Before(start), "the long read held its lock while the migration started")
}
