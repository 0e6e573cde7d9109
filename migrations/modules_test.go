package migrations_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// isolated is the statement that gives a module's table the isolation Tenantry requires.
func isolated(table string) string {
	return fmt.Sprintf(`ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON %[1]s
    USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid));
`, table)
}

// projectsFiles are a projects/tasks product's tenant migrations: two tables with indexes.
func projectsFiles() fstest.MapFS {
	return fstest.MapFS{
		"0001_projects.sql": {Data: []byte(`CREATE TABLE projects_projects (
    tenant_id  uuid        NOT NULL,
    project_id uuid        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, project_id)
);
CREATE INDEX projects_projects_name_idx ON projects_projects (tenant_id, name);
` + isolated("projects_projects"))},
		"0002_tasks.sql": {Data: []byte(`CREATE TABLE projects_tasks (
    tenant_id  uuid        NOT NULL,
    task_id    uuid        NOT NULL,
    project_id uuid        NOT NULL,
    title      text        NOT NULL,
    done       boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, task_id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects_projects (tenant_id, project_id)
);
CREATE INDEX projects_tasks_project_idx ON projects_tasks (tenant_id, project_id, done);
` + isolated("projects_tasks"))},
	}
}

func projectsModule() []migrations.ModuleMigrations {
	return migrations.ModulesOf([]module.Module{{Name: "projects", Migrations: projectsFiles()}})
}

// provisionTenants records tenant.created for n fresh tenants and provisions their schemas
// with tenantry.migrate_tenant_schema as the projector's role, 8 connections at once and
// 10 tenants per transaction, not waiting for each commit to reach the disk (set-up only).
func provisionTenants(tb testing.TB, workerURL string, n int) []uuid.UUID {
	tb.Helper()
	ctx := context.Background()
	u, err := url.Parse(workerURL)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	worker := pgtest.Pool(tb, u.String(), 8)
	defer worker.Close()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	const batch = 10
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := w * batch; lo < n && errs[w] == nil; lo += len(errs) * batch {
				part := ids[lo:min(lo+batch, n)]
				for _, id := range part {
					if _, errs[w] = eventstore.New(worker).Append(ctx, id, "tenant", eventstore.NoStream,
						eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{}`)}); errs[w] != nil {
						return
					}
				}
				_, errs[w] = worker.Exec(ctx, `SELECT count(tenantry.migrate_tenant_schema(id)) FROM unnest($1::uuid[]) AS id`, part)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

// provisionOne creates one more tenant and its schema, returning the version it reached.
func provisionOne(t *testing.T, worker *pgxpool.Pool) (uuid.UUID, int, error) {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := eventstore.New(worker).Append(context.Background(), id, "tenant", eventstore.NoStream,
		eventstore.NewEvent{Type: "tenant.created", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	var v int
	err = worker.QueryRow(context.Background(), `SELECT tenantry.migrate_tenant_schema($1)`, id).Scan(&v)
	return id, v, err
}

// recorded lists tenant_migrations as "version module/module_version name", in order.
func recorded(t *testing.T, super *pgxpool.Pool) []string {
	t.Helper()
	rows, err := super.Query(context.Background(), `SELECT format('%s %s/%s %s', version, module, module_version, name)
		FROM tenantry.tenant_migrations ORDER BY version`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// moduleTableFacts sums up the module tables in the given schemas: how many there are, and
// whether every one is owned by tenantry_owner, has forced RLS with the schema_owner policy,
// and grants both runtime roles DML and nothing more.
func moduleTableFacts(t *testing.T, super *pgxpool.Pool, schemas []string) (tables int, owned, forced, dml, more, schemaOwner bool) {
	t.Helper()
	require.NoError(t, super.QueryRow(context.Background(), `
		SELECT count(*),
		       coalesce(bool_and(pg_get_userbyid(c.relowner) = 'tenantry_owner'), false),
		       coalesce(bool_and(c.relrowsecurity AND c.relforcerowsecurity), false),
		       coalesce(bool_and(has_table_privilege('tenantry_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
		                     AND has_table_privilege('tenantry_worker', c.oid, 'SELECT, INSERT, UPDATE, DELETE')), false),
		       coalesce(bool_or(has_table_privilege(r.role, c.oid, 'TRUNCATE') OR has_table_privilege(r.role, c.oid, 'REFERENCES')
		                     OR has_table_privilege(r.role, c.oid, 'TRIGGER')), false),
		       coalesce(bool_and(EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'schema_owner' AND NOT p.polpermissive)), false)
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 CROSS JOIN LATERAL (VALUES ('tenantry_app'), ('tenantry_worker')) r(role)
		 WHERE n.nspname = ANY ($1) AND c.relname IN ('projects_projects', 'projects_tasks')`, schemas).
		Scan(&tables, &owned, &forced, &dml, &more, &schemaOwner))
	return tables / 2, owned, forced, dml, more, schemaOwner // each table once per role
}

func TestModuleMigrations_ApplyToEveryExistingSchemaAndNewOnes(t *testing.T) {
	const n = 1000
	db := pgtest.New(t)
	worker := pgtest.Pool(t, db.WorkerURL, 8)
	super := pgtest.Pool(t, db.SuperURL, 2)
	ctx := context.Background()
	ids := provisionTenants(t, db.WorkerURL, n)
	core := latestTenantVersion(t)

	res, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{Modules: projectsModule()})
	require.NoError(t, err)
	require.Equal(t, core+2, res.TenantVersion)
	rec := recorded(t, super)
	require.Equal(t, []string{fmt.Sprintf("%d projects/1 projects", core+1), fmt.Sprintf("%d projects/2 tasks", core+2)}, rec[core:])
	own, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%d tenantry/%d %s", core, core, own[len(own)-1].Name), rec[core-1], "Tenantry's own keep their numbers")

	rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Modules: projectsModule()})
	require.NoError(t, err)
	require.Equal(t, n, rep.Pending)
	require.Equal(t, n, rep.Migrated)
	require.Equal(t, core+2, rep.Latest)
	var behind int
	require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FROM tenantry.tenant_schemas WHERE version <> $1`, core+2).Scan(&behind))
	require.Zero(t, behind)

	fresh, v, err := provisionOne(t, worker)
	require.NoError(t, err)
	require.Equal(t, core+2, v, "a new tenant's schema gets the module's tables")

	schemas := []string{schemaOf(fresh)}
	for _, id := range ids {
		schemas = append(schemas, schemaOf(id))
	}
	tables, owned, forced, dml, more, schemaOwner := moduleTableFacts(t, super, schemas)
	require.Equal(t, 2*(n+1), tables)
	require.True(t, owned, "the runtime roles own none of the module's tables")
	require.True(t, forced, "RLS enabled and forced")
	require.True(t, dml, "both runtime roles have DML")
	require.False(t, more, "and nothing beyond it")
	require.True(t, schemaOwner, "each table admits only its schema's tenant")

	// The API writes its own tenant's rows, and no other's.
	app := pgtest.Pool(t, db.AppURL, 1)
	insert := func(into, as uuid.UUID) error {
		return pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, as.String()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schemaOf(into), "projects_projects"}.Sanitize()+
				` (tenant_id, project_id, name, created_at) VALUES ($1, $2, 'Launch', now())`, as, uuid.New())
			return err
		})
	}
	require.NoError(t, insert(ids[0], ids[0]))
	require.Equal(t, "42501", pgCode(insert(ids[1], ids[0])), "a row for tenant 0 refused in tenant 1's schema")

	// A rebuild's shadow schema is built from every migration, the module's included.
	shadow := schemaOf(fresh) + "_rebuild"
	_, err = worker.Exec(ctx, `SELECT tenantry.rebuild_start($1)`, fresh)
	require.NoError(t, err)
	tables, owned, forced, dml, more, schemaOwner = moduleTableFacts(t, super, []string{shadow})
	require.Equal(t, 2, tables)
	require.True(t, owned && forced && dml && !more && schemaOwner, "the shadow's module tables are isolated like the live ones")
	_, err = worker.Exec(ctx, `SELECT tenantry.rebuild_swap($1)`, fresh)
	require.NoError(t, err)
	require.NoError(t, super.QueryRow(ctx, `SELECT version FROM tenantry.tenant_schemas WHERE tenant_id = $1`, fresh).Scan(&v))
	require.Equal(t, core+2, v)
}

// A new tenant migration that cannot apply to a new tenant's schema (here a table without
// row-level security; a syntax error alike) is refused before it is recorded: migrate says
// why, nothing of it reaches any schema, and new tenants are still provisioned. Recorded, it
// would stop every new tenant's provisioning.
func TestModuleMigrations_AFileThatFailsOnANewSchemaIsRefusedBeforeItIsRecorded(t *testing.T) {
	db := pgtest.New(t)
	worker := pgtest.Pool(t, db.WorkerURL, 4)
	super := pgtest.Pool(t, db.SuperURL, 2)
	ctx := context.Background()
	ids := provisionTenants(t, db.WorkerURL, 3)
	core := latestTenantVersion(t)
	recordedBefore := recorded(t, super)
	for name, sql := range map[string]string{
		"without RLS":  `CREATE TABLE notes_notes (tenant_id uuid NOT NULL, body text);`,
		"syntax error": `CREATE TABLE notes_notes (tenant_id uuid NOT NULL,;`,
	} {
		bad := []migrations.ModuleMigrations{{Module: "notes", FS: fstest.MapFS{"0001_notes.sql": {Data: []byte(sql)}}}}
		_, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{Modules: bad})
		require.ErrorIs(t, err, migrations.ErrTenantMigrationRefused, name)
		_, err = migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Modules: bad})
		require.ErrorIs(t, err, migrations.ErrTenantMigrationRefused, name)
		require.Equal(t, recordedBefore, recorded(t, super), "%s: nothing recorded", name)
	}
	if len(recordedBefore) == 0 {
		t.Fatal("no tenant migration recorded: the comparison above proves nothing")
	}
	rows, err := super.Query(ctx, `SELECT version FROM tenantry.tenant_schemas WHERE tenant_id = ANY ($1)`, ids)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{core, core, core}, versions, "each schema stays where it was")
	var left int
	require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\_%' AND
		nspname NOT IN (SELECT schema_name FROM tenantry.tenant_schemas)`).Scan(&left))
	require.Zero(t, left, "no trial schema remains")

	_, v, err := provisionOne(t, worker)
	require.NoError(t, err, "new tenants are still provisioned")
	require.Equal(t, core, v)
}

func TestModuleMigrations_AFailingSchemaDoesNotStopTheOthers(t *testing.T) {
	db := pgtest.New(t)
	super := pgtest.Pool(t, db.SuperURL, 2)
	ctx := context.Background()
	ids := provisionTenants(t, db.WorkerURL, 5)
	broken := ids[2]
	// A table of the same name already there, made by hand.
	_, err := super.Exec(ctx, `CREATE TABLE `+pgx.Identifier{schemaOf(broken), "projects_projects"}.Sanitize()+` (x int)`)
	require.NoError(t, err)

	rep, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Modules: projectsModule(), Concurrency: 2})
	require.ErrorIs(t, err, migrations.ErrTenantMigrations)
	require.Equal(t, 5, rep.Pending)
	require.Equal(t, 4, rep.Migrated)
	require.Len(t, rep.Failed, 1)
	require.Equal(t, broken, rep.Failed[0].Tenant)
	require.Equal(t, "42P07", pgCode(rep.Failed[0].Err), "%v", rep.Failed[0].Err)
	tables, _, _, _, _, _ := moduleTableFacts(t, super, []string{schemaOf(ids[0]), schemaOf(ids[1]), schemaOf(ids[3]), schemaOf(ids[4])})
	require.Equal(t, 8, tables)
}

func TestModuleMigrations_RefuseAnEditedOrOutOfOrderFileAndBadDeclarations(t *testing.T) {
	db := pgtest.New(t)
	super := pgtest.Pool(t, db.SuperURL, 2)
	ctx := context.Background()
	core := latestTenantVersion(t)
	migrate := func(mods ...migrations.ModuleMigrations) error {
		_, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{Modules: mods})
		return err
	}
	files := projectsFiles()
	crm := fstest.MapFS{"0001_contacts.sql": {Data: []byte(`CREATE TABLE crm_contacts (tenant_id uuid NOT NULL, email text);` + isolated("crm_contacts"))}}
	third := fstest.MapFS{"0001_projects.sql": files["0001_projects.sql"], "0003_archive.sql": {Data: []byte(`ALTER TABLE projects_projects ADD COLUMN archived boolean;`)}}
	require.NoError(t, migrate(migrations.ModuleMigrations{Module: "projects", FS: third}, migrations.ModuleMigrations{Module: "crm", FS: crm}))
	want := append(recorded(t, super)[:core],
		fmt.Sprintf("%d projects/1 projects", core+1), fmt.Sprintf("%d projects/3 archive", core+2), fmt.Sprintf("%d crm/1 contacts", core+3))
	require.Equal(t, want, recorded(t, super), "modules in the order given, each file in its own order")

	t.Run("OutOfOrder", func(t *testing.T) {
		err := migrate(migrations.ModuleMigrations{Module: "projects", FS: files}) // 0002 is new, 0003 recorded
		require.ErrorIs(t, err, migrations.ErrTenantMigrationOutOfOrder)
		require.ErrorContains(t, err, "module projects's 0002_tasks.sql")
	})
	t.Run("Edited", func(t *testing.T) {
		edited := fstest.MapFS{"0001_projects.sql": {Data: []byte("-- edited\n")}}
		err := migrate(migrations.ModuleMigrations{Module: "projects", FS: edited})
		require.ErrorIs(t, err, migrations.ErrTenantMigrationEdited)
		require.ErrorContains(t, err, "tenant migration 0001_projects of module projects differs from the one already applied")
		_, err = migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Modules: []migrations.ModuleMigrations{{Module: "projects", FS: edited}}})
		require.ErrorIs(t, err, migrations.ErrTenantMigrationEdited, "MigrateTenants checks the same way")
	})
	t.Run("BadDeclarations", func(t *testing.T) {
		for name, mods := range map[string][]migrations.ModuleMigrations{
			`module "tenantry"`: {{Module: module.Core, FS: crm}},
			`module "Projects"`: {{Module: "Projects", FS: crm}},
			"module crm: tenant migration \"1_contacts.sql\"": {{Module: "crm", FS: fstest.MapFS{"1_contacts.sql": {Data: []byte("SELECT 1;")}}}},
			"module crm: tenant migration \"0000_x.sql\"":     {{Module: "crm", FS: fstest.MapFS{"0000_x.sql": {Data: []byte("SELECT 1;")}}}},
			"module crm given twice":                          {{Module: "crm", FS: crm}, {Module: "crm", FS: crm}},
		} {
			require.ErrorContains(t, migrate(mods...), name)
		}
	})
	require.Equal(t, want, recorded(t, super), "no refused run recorded anything")

	// A module without migrations is left out; one that grows is appended.
	require.Empty(t, migrations.ModulesOf([]module.Module{{Name: "billing_extras"}}))
	third["0004_due.sql"] = &fstest.MapFile{Data: []byte(`ALTER TABLE projects_projects ADD COLUMN due date;`)}
	require.NoError(t, migrate(migrations.ModuleMigrations{Module: "crm", FS: crm}, migrations.ModuleMigrations{Module: "projects", FS: third}))
	require.Equal(t, append(want, fmt.Sprintf("%d projects/4 due", core+4)), recorded(t, super))
}

// With nothing new, neither Migrate nor MigrateTenants writes or locks the table: a run
// holding its lock (as a sync recording new files does) does not delay them.
func TestModuleMigrations_RunningAgainDoesNothing(t *testing.T) {
	db := pgtest.New(t)
	super := pgtest.Pool(t, db.SuperURL, 2)
	ctx := context.Background()
	ids := provisionTenants(t, db.WorkerURL, 3)
	_, err := migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Modules: projectsModule()})
	require.NoError(t, err)
	before := recorded(t, super)
	var migratedAt time.Time
	require.NoError(t, super.QueryRow(ctx, `SELECT max(migrated_at) FROM tenantry.tenant_schemas WHERE tenant_id = ANY ($1)`, ids).Scan(&migratedAt))

	held, err := super.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = held.Rollback(ctx) }()
	_, err = held.Exec(ctx, `LOCK TABLE tenantry.tenant_migrations IN SHARE ROW EXCLUSIVE MODE`)
	require.NoError(t, err)

	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := migrations.Migrate(tctx, db.SuperURL, migrations.Options{Modules: projectsModule()})
	require.NoError(t, err)
	require.Empty(t, res.Applied)
	require.Equal(t, latestTenantVersion(t)+2, res.TenantVersion)
	rep, err := migrations.MigrateTenants(tctx, db.SuperURL, migrations.TenantOptions{Modules: projectsModule(), LockTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	require.Zero(t, rep.Pending)
	require.Zero(t, rep.Migrated)
	require.NoError(t, held.Rollback(ctx))

	require.Equal(t, before, recorded(t, super))
	var after time.Time
	require.NoError(t, super.QueryRow(ctx, `SELECT max(migrated_at) FROM tenantry.tenant_schemas WHERE tenant_id = ANY ($1)`, ids).Scan(&after))
	require.Equal(t, migratedAt, after)
}

// Syncs started together record each new file once, in one unbroken order.
func TestModuleMigrations_ConcurrentSyncsRecordEachFileOnce(t *testing.T) {
	db := pgtest.New(t)
	super := pgtest.Pool(t, db.SuperURL, 2)
	ctx := context.Background()
	core := latestTenantVersion(t)
	crm := fstest.MapFS{"0001_contacts.sql": {Data: []byte(`CREATE TABLE crm_contacts (tenant_id uuid NOT NULL, email text);` + isolated("crm_contacts"))}}
	mods := []migrations.ModuleMigrations{{Module: "projects", FS: projectsFiles()}, {Module: "crm", FS: crm}}
	const runs = 6
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, errs[i] = migrations.Migrate(ctx, db.SuperURL, migrations.Options{Modules: mods})
			} else {
				_, errs[i] = migrations.MigrateTenants(ctx, db.SuperURL, migrations.TenantOptions{Modules: mods})
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, []string{
		fmt.Sprintf("%d projects/1 projects", core+1),
		fmt.Sprintf("%d projects/2 tasks", core+2),
		fmt.Sprintf("%d crm/1 contacts", core+3),
	}, recorded(t, super)[core:])
}
