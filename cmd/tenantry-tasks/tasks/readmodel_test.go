package tasks

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// fixture is a real database with the module's migration applied to its tenants' schemas by
// tenantry.migrate_tenant_schema (the same checks as Tenantry's own tables), commands through
// the module's scoped event store as the API role, and the projection run as the worker role.
type fixture struct {
	t      *testing.T
	reg    *eventstore.Registry
	api    *eventstore.Store // tenantry_app
	worker *eventstore.Store // tenantry_worker
	db     *pgtest.DB
}

func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	db := pgtest.New(t)
	super := pgtest.Pool(t, db.SuperURL, 2)
	// Until this test runs `migrate` with the module (migrations.Options.Modules, issue 18's
	// migrations part), the module's file is recorded as the next tenant migration by hand,
	// with its module and number where the table has those columns (shared migration 00005).
	sql, err := fs.ReadFile(Migrations(), "0001_projects_tasks.sql")
	require.NoError(t, err)
	var perModule bool
	require.NoError(t, super.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
WHERE table_schema = 'tenantry' AND table_name = 'tenant_migrations' AND column_name = 'module_version')`).Scan(&perModule))
	insert := `INSERT INTO tenantry.tenant_migrations (version, name, sql, checksum)
SELECT coalesce(max(version), 0) + 1, 'projects_tasks', $1, sha256(convert_to($1, 'UTF8')) FROM tenantry.tenant_migrations`
	if perModule {
		insert = `INSERT INTO tenantry.tenant_migrations (version, name, sql, checksum, module, module_version)
SELECT coalesce(max(version), 0) + 1, 'projects_tasks', $1, sha256(convert_to($1, 'UTF8')), 'tasks', 1 FROM tenantry.tenant_migrations`
	}
	_, err = super.Exec(ctx, insert, string(sql))
	require.NoError(t, err)

	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	require.NoError(t, module.Register(reg, Module()))
	return &fixture{t: t, reg: reg, db: db,
		api:    eventstore.New(pgtest.Pool(t, db.AppURL, 4)),
		worker: eventstore.New(pgtest.Pool(t, db.WorkerURL, 4))}
}

// newTenant appends a tenant.created and provisions its schema as the projector does.
func (f *fixture) newTenant() uuid.UUID {
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	slug, err := domain.ParseSlug("t" + id.String()[24:])
	require.NoError(f.t, err)
	created, err := tenant.Create(id, "Tenant", slug, domain.PlanFree, time.Now())
	require.NoError(f.t, err)
	ne, err := f.reg.Encode(created[0], eventstore.Metadata{Actor: "test"})
	require.NoError(f.t, err)
	_, err = f.api.Append(ctx, id, tenant.StreamID, eventstore.NoStream, ne)
	require.NoError(f.t, err)
	pool := pgtest.Pool(f.t, f.db.WorkerURL, 1)
	_, err = pool.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id)
	require.NoError(f.t, err)
	return id
}

// run is what a route's handler does: app.Command through the module's scoped store.
func (f *fixture) run(ten, project uuid.UUID, decide func(*Project) ([]domain.Event, error)) (*Project, error) {
	store := Module().Scoped(eventstore.DomainStore{Store: f.api, Registry: f.reg})
	cmd := app.Command[*Project]{Store: store, Tenant: ten, Stream: Stream(project), New: NewProject, Metadata: domain.Metadata{Actor: "test"}}
	p, _, err := cmd.Run(context.Background(), decide)
	return p, err
}

// project applies the tenant's events after seq to the read model, in one transaction as
// the projector does, and returns the last seq.
func (f *fixture) project(ten uuid.UUID, after int64) int64 {
	ctx := context.Background()
	events, _, err := eventstore.DomainStore{Store: f.worker, Registry: f.reg}.ReadHistory(ctx, ten, after, time.Now().Add(time.Hour))
	require.NoError(f.t, err)
	require.NoError(f.t, f.worker.InModule(ctx, ten, false, func(tx module.Tx) error {
		for _, e := range events {
			if Module().OwnsType(e.Event.EventType()) {
				if err := readProjection.Apply(ctx, tx, e); err != nil {
					return err
				}
			}
			after = e.Seq
		}
		return nil
	}))
	return after
}

func (f *fixture) read(ten uuid.UUID, fn func(module.Tx) error) {
	require.NoError(f.t, f.api.InModule(context.Background(), ten, true, fn))
}

func TestReadModel_ShowsWhatTheCommandsDecided(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantA, tenantB := f.newTenant(), f.newTenant()

	pid := uuid.Must(uuid.NewV7())
	now := time.Now()
	_, err := f.run(tenantA, pid, func(p *Project) ([]domain.Event, error) { return p.Create(pid, "Launch", "Ship it", now) })
	require.NoError(t, err)
	var taskIDs []uuid.UUID
	var state *Project
	for i := range 5 {
		id := uuid.Must(uuid.NewV7())
		taskIDs = append(taskIDs, id)
		state, err = f.run(tenantA, pid, func(p *Project) ([]domain.Event, error) { return p.AddTask(id, fmt.Sprintf("task %d", i), now) })
		require.NoError(t, err)
	}
	for _, id := range taskIDs[:2] {
		state, err = f.run(tenantA, pid, func(p *Project) ([]domain.Event, error) { return p.CompleteTask(id, now) })
		require.NoError(t, err)
	}
	_, err = f.run(tenantA, pid, func(p *Project) ([]domain.Event, error) { return p.CompleteTask(taskIDs[0], now) })
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err))
	f.project(tenantA, 0)

	f.read(tenantA, func(tx module.Tx) error {
		got, err := queryProjects(ctx, tx, getProjectSQL, pid)
		require.NoError(t, err)
		require.Equal(t, []ProjectView{state.view()}, got)
		require.Equal(t, 3, got[0].OpenTasks)
		require.Equal(t, 2, got[0].DoneTasks)

		for status, want := range map[string][]uuid.UUID{"": taskIDs, "open": taskIDs[2:], "done": taskIDs[:2]} {
			var seen []uuid.UUID
			after := uuid.Nil
			for { // pages of two, as a client walks next_cursor
				rows, err := queryTasks(ctx, tx, pid, status, after, 3)
				require.NoError(t, err)
				page := domain.NewPage(rows, 2, func(v TaskView) string { return v.ID.String() })
				for _, v := range page.Items {
					require.Equal(t, state.taskView(v.ID), v)
					seen = append(seen, v.ID)
				}
				if !page.HasMore {
					break
				}
				after = page.Items[len(page.Items)-1].ID
			}
			require.Equal(t, want, seen, "status %q", status)
		}
		return nil
	})

	// Tenant B, in its own context and schema, sees none of it.
	f.read(tenantB, func(tx module.Tx) error {
		got, err := queryProjects(ctx, tx, listProjectsSQL, uuid.Nil, 10)
		require.NoError(t, err)
		require.Empty(t, got)
		return nil
	})
}

func TestReadModel_TablesAreForcedRowLevelSecurityAndOwnedByNoRuntimeRole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ten := f.newTenant()
	pid := uuid.Must(uuid.NewV7())
	_, err := f.run(ten, pid, func(p *Project) ([]domain.Event, error) { return p.Create(pid, "Launch", "", time.Now()) })
	require.NoError(t, err)
	f.project(ten, 0)

	super := pgtest.Pool(t, f.db.SuperURL, 1)
	rows, err := super.Query(ctx, `SELECT c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity,
       has_table_privilege('tenantry_app', c.oid, 'TRUNCATE'), has_table_privilege('tenantry_worker', c.oid, 'TRUNCATE')
  FROM pg_class c WHERE c.relnamespace = tenantry.tenant_schema_name($1)::regnamespace AND c.relname LIKE 'tasks\_%' AND c.relkind = 'r'
 ORDER BY 1`, ten)
	require.NoError(t, err)
	type rel struct {
		Name, Owner                string
		RLS, Forced, AppTr, WorkTr bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rel])
	require.NoError(t, err)
	require.Equal(t, []rel{
		{"tasks_projects", "tenantry_owner", true, true, false, false},
		{"tasks_tasks", "tenantry_owner", true, true, false, false},
	}, got)

	// The runtime role outside any tenant context reads nothing, even naming the schema.
	appPool := pgtest.Pool(t, f.db.AppURL, 1)
	var schema string
	require.NoError(t, appPool.QueryRow(ctx, `SELECT tenantry.tenant_schema_name($1)`, ten).Scan(&schema))
	var n int
	require.NoError(t, appPool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "tasks_projects"}.Sanitize()).Scan(&n))
	require.Zero(t, n)
}
