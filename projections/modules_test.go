package projections

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// Two product modules, as a team would declare them: "tasks" (its own events, and one of
// Tenantry's) and "notes" (whose projection refuses a note saying "boom").

type taskAdded struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

func (taskAdded) EventType() string  { return "tasks.task.added" }
func (taskAdded) SchemaVersion() int { return 1 }

type taskDone struct {
	ID string `json:"id"`
}

func (taskDone) EventType() string  { return "tasks.task.done" }
func (taskDone) SchemaVersion() int { return 1 }

type noteAdded struct {
	Text string `json:"text"`
}

func (noteAdded) EventType() string  { return "notes.note.added" }
func (noteAdded) SchemaVersion() int { return 1 }

// moduleTables are the modules' tables, created in every tenant's schema by a tenant
// migration with tenant_id and forced row-level security, as module migrations must.
const moduleTablesSQL = `
CREATE TABLE tasks_items (
    tenant_id uuid    NOT NULL,
    id        text    NOT NULL,
    title     text    NOT NULL,
    done      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id)
);
-- One row per event applied: a second application of an event breaks the primary key.
CREATE TABLE tasks_log (
    tenant_id  uuid   NOT NULL,
    seq        bigint NOT NULL,
    event_type text   NOT NULL,
    stream_id  text   NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE TABLE notes_counts (
    tenant_id uuid    PRIMARY KEY,
    n         integer NOT NULL
);
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tasks_items', 'tasks_log', 'notes_counts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))
            WITH CHECK (tenant_id = (SELECT nullif(current_setting('tenantry.tenant_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;
`

var moduleTables = []string{"tasks_items", "tasks_log", "notes_counts"}

// tasksModule's projection "items" keeps tasks_items and logs every event it is given,
// tenant.renamed (Tenantry's) included. failOnce, when set, is asked before each Apply and
// may fail it.
func tasksModule(failOnce func(e domain.Recorded) error) module.Module {
	return module.Module{
		Name:   "tasks",
		Events: []module.EventType{module.Event[taskAdded](), module.Event[taskDone]()},
		Projections: []module.Projection{{
			Name:    "items",
			Handles: []string{"tasks.task.added", "tasks.task.done", tenant.TypeRenamed},
			Apply: func(ctx context.Context, tx module.Tx, e domain.Recorded) error {
				if failOnce != nil {
					if err := failOnce(e); err != nil {
						return err
					}
				}
				if _, err := tx.Exec(ctx, `INSERT INTO tasks_log (tenant_id, seq, event_type, stream_id) VALUES ($1, $2, $3, $4)`,
					tx.Tenant(), e.Seq, e.Event.EventType(), e.StreamID); err != nil {
					return err
				}
				switch ev := domain.Deref(e.Event).(type) {
				case taskAdded:
					_, err := tx.Exec(ctx, `INSERT INTO tasks_items (tenant_id, id, title) VALUES ($1, $2, $3)`, tx.Tenant(), ev.ID, ev.Title)
					return err
				case taskDone:
					n, err := tx.Exec(ctx, `UPDATE tasks_items SET done = true WHERE id = $1`, ev.ID)
					if err == nil && n != 1 {
						err = fmt.Errorf("task %s: no such task", ev.ID)
					}
					return err
				}
				return nil
			},
		}},
	}
}

// notesModule's projection "counts" counts notes, and refuses one saying "boom".
func notesModule() module.Module {
	return module.Module{
		Name:   "notes",
		Events: []module.EventType{module.Event[noteAdded]()},
		Projections: []module.Projection{{
			Name:    "counts",
			Handles: []string{"notes.note.added"},
			Apply: func(ctx context.Context, tx module.Tx, e domain.Recorded) error {
				if domain.Deref(e.Event).(noteAdded).Text == "boom" {
					return errors.New("boom")
				}
				_, err := tx.Exec(ctx, `INSERT INTO notes_counts (tenant_id, n) VALUES ($1, 1)
					ON CONFLICT (tenant_id) DO UPDATE SET n = notes_counts.n + 1`, tx.Tenant())
				return err
			},
		}},
	}
}

const (
	tasksItems  = "tasks.items"
	notesCounts = "notes.counts"
)

// moduleFixture is a database of its own whose tenant migrations include the modules'
// tables, and a registry that knows the modules' event types.
func moduleFixture(t *testing.T, mods ...module.Module) *fixture {
	t.Helper()
	db := pgtest.New(t)
	base, err := migrations.LoadTenantMigrations(migrations.TenantFS())
	require.NoError(t, err)
	fsys := fstest.MapFS{}
	for _, tm := range base {
		fsys[fmt.Sprintf("%04d_%s.sql", tm.Version, tm.Name)] = &fstest.MapFile{Data: []byte(tm.SQL)}
	}
	fsys[fmt.Sprintf("%04d_test_modules.sql", base[len(base)-1].Version+1)] = &fstest.MapFile{Data: []byte(moduleTablesSQL)}
	_, err = migrations.Migrate(context.Background(), db.SuperURL, migrations.Options{TenantMigrations: fsys})
	require.NoError(t, err)
	f := fixtureOn(t, db, 8)
	for _, m := range mods {
		require.NoError(t, module.Register(f.reg, m))
	}
	return f
}

func (f *fixture) moduleProjector(mods ...module.Module) *Projector {
	p := f.projector()
	p.Modules = mods
	return p
}

// checkpoints reads every projection row of the tenant: name to seq, and the failed ones.
func (f *fixture) checkpoints(t testing.TB, id uuid.UUID) (seqs map[string]int64, failed map[string]int64) {
	t.Helper()
	seqs, failed = map[string]int64{}, map[string]int64{}
	f.inTenant(t, id, func(tx pgx.Tx) {
		rows, err := tx.Query(context.Background(), `SELECT projection, seq, failed_seq FROM tenantry.projections`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var name string
			var seq int64
			var failedSeq *int64
			require.NoError(t, rows.Scan(&name, &seq, &failedSeq))
			seqs[name] = seq
			if failedSeq != nil {
				failed[name] = *failedSeq
			}
		}
		require.NoError(t, rows.Err())
	})
	return seqs, failed
}

func (f *fixture) head(t testing.TB, id uuid.UUID) int64 {
	t.Helper()
	head, _, err := f.store.Head(context.Background(), id)
	require.NoError(t, err)
	return head
}

func (f *fixture) count(t testing.TB, id uuid.UUID, query string) int64 {
	t.Helper()
	var n int64
	f.inTenant(t, id, func(tx pgx.Tx) { require.NoError(t, tx.QueryRow(context.Background(), query).Scan(&n)) })
	return n
}

func TestProjectorNames_ListTenantrysProjectionsThenTheModules(t *testing.T) {
	p := &Projector{Modules: []module.Module{tasksModule(nil), notesModule()}}
	require.Equal(t, []string{ProjectionUsage, ProjectionAuth, tasksItems, notesCounts}, p.Names())
	require.Equal(t, []string{ProjectionUsage, ProjectionAuth}, (&Projector{}).Names())
}

func TestProjector_RefusesModulesThatCheckRefuses(t *testing.T) {
	p := &Projector{Modules: []module.Module{tasksModule(nil), tasksModule(nil)}}
	require.ErrorContains(t, p.Run(context.Background()), "declared twice")
	_, err := p.ProjectBatch(context.Background(), uuid.New())
	require.ErrorContains(t, err, "declared twice")
	_, err = NewPipeline(PipelineConfig{Store: &eventstore.Store{}, Registry: eventstore.NewRegistry(), Modules: p.Modules})
	require.ErrorContains(t, err, "declared twice")
}

// A module projection applies each event it handles once, in the tenant's transaction with
// its own checkpoint; the events it does not handle only move the checkpoint. The auth
// projection passes over the module's events instead of stopping on them.
func TestModuleProjection_AppliesItsEventsOnceAndMovesItsCheckpoint(t *testing.T) {
	t.Parallel()
	tasks := tasksModule(nil)
	f := moduleFixture(t, tasks)
	id := f.createTenant(t)
	f.append(t, id, "tasks.list", taskAdded{ID: "a", Title: "Write"}, taskAdded{ID: "b", Title: "Test"})
	f.append(t, id, usage.StreamID, usageEvent(t, 1))
	f.append(t, id, tenant.StreamID, tenant.Renamed{Name: mustName(t, "New")})
	f.append(t, id, "tasks.list", taskDone{ID: "a"})
	head := f.head(t, id)

	p := f.moduleProjector(tasks)
	f.projectAll(t, p, id)
	f.projectAll(t, p, id) // nothing more: nothing applied twice (tasks_log's key would refuse it)

	seqs, failed := f.checkpoints(t, id)
	require.Empty(t, failed)
	require.Equal(t, map[string]int64{ProjectionAuth: head, ProjectionUsage: head, tasksItems: head}, seqs)
	require.Equal(t, int64(4), f.count(t, id, `SELECT count(*) FROM tasks_log`), "2 added, 1 renamed (Tenantry's), 1 done")
	require.Equal(t, int64(1), f.count(t, id, `SELECT count(*) FROM tasks_items WHERE done`))
	require.Equal(t, int64(1), f.count(t, id, `SELECT count(*) FROM tasks_log WHERE event_type = 'tenant.renamed' AND stream_id = 'tenant'`))
	require.Equal(t, int64(1), f.count(t, id, `SELECT count(*) FROM profile WHERE name = 'New'`), "Tenantry's projection applied the rename too")
	require.Zero(t, p.Poisoned())
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, head, time.Second, tasksItems))
}

// A module projection that cannot apply an event stops for that tenant alone: Tenantry's
// projections and the other module's go on to the head, and its own failure is recorded,
// counted and seen by waiters.
func TestModuleProjection_FailureStopsOnlyItself(t *testing.T) {
	t.Parallel()
	tasks, notes := tasksModule(nil), notesModule()
	f := moduleFixture(t, tasks, notes)
	sick, well := f.createTenant(t), f.createTenant(t)
	for _, id := range []uuid.UUID{sick, well} {
		f.append(t, id, "notes.n1", noteAdded{Text: "first"})
		f.append(t, id, "tasks.list", taskAdded{ID: "a", Title: "Write"})
	}
	f.append(t, sick, "notes.n1", noteAdded{Text: "boom"})
	boom := f.head(t, sick)
	for _, id := range []uuid.UUID{sick, well} {
		f.append(t, id, "notes.n1", noteAdded{Text: "after"})
		f.append(t, id, "tasks.list", taskAdded{ID: "b", Title: "Test"})
		f.append(t, id, usage.StreamID, usageEvent(t, 7))
		f.append(t, id, tenant.StreamID, tenant.Renamed{Name: mustName(t, "New")})
	}

	p := f.moduleProjector(tasks, notes)
	p.Workers = 2
	runProjector(t, p)
	p.Notify(sick)
	p.Notify(well)
	for _, id := range []uuid.UUID{sick, well} {
		require.NoError(t, f.store.WaitForProjections(context.Background(), id, f.head(t, id), 30*time.Second, ProjectionAuth, ProjectionUsage, tasksItems))
	}
	require.NoError(t, f.store.WaitForProjections(context.Background(), well, f.head(t, well), 30*time.Second, notesCounts))
	err := f.store.WaitForProjections(context.Background(), sick, f.head(t, sick), 30*time.Second, notesCounts)
	var stopped *eventstore.StoppedError
	require.ErrorAs(t, err, &stopped)
	require.Equal(t, notesCounts, stopped.Projection)

	seqs, failed := f.checkpoints(t, sick)
	require.Equal(t, map[string]int64{notesCounts: boom}, failed)
	require.Equal(t, boom-1, seqs[notesCounts], "the events before the failing one are applied")
	require.Equal(t, int64(1), f.count(t, sick, `SELECT n FROM notes_counts`))
	require.Equal(t, int64(2), f.count(t, well, `SELECT n FROM notes_counts`))
	for _, id := range []uuid.UUID{sick, well} {
		require.Equal(t, int64(2), f.count(t, id, `SELECT count(*) FROM tasks_items`))
		require.Equal(t, int64(1), f.count(t, id, `SELECT count(*) FROM profile WHERE name = 'New'`))
		require.Equal(t, int64(1), f.count(t, id, `SELECT coalesce(sum(quantity), 0) FROM usage_daily`))
	}
	require.Equal(t, int64(1), p.PoisonedIn(notesCounts))
	require.Equal(t, int64(1), p.Poisoned())
	for _, name := range []string{ProjectionAuth, ProjectionUsage, tasksItems} {
		require.Zero(t, p.PoisonedIn(name), name)
	}
	fails, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	var mine []eventstore.ProjectionFailure
	for _, fl := range fails {
		if fl.Tenant == sick || fl.Tenant == well {
			mine = append(mine, fl)
		}
	}
	require.Len(t, mine, 1)
	require.Equal(t, notesCounts, mine[0].Projection)
	require.Equal(t, boom, mine[0].FailedSeq)

	// The stopped projection is no backlog: the scan does not bring the tenant back.
	ids, err := f.store.ProjectionBacklog(context.Background(), 1000, p.Names()...)
	require.NoError(t, err)
	require.NotContains(t, ids, sick)
	require.NotContains(t, ids, well)
}

// A transient error of a module's Apply (a serialization failure) is retried, and the
// event is applied once it clears, exactly once.
func TestModuleProjection_RetriesATransientError(t *testing.T) {
	t.Parallel()
	var failures atomic.Int64
	tasks := tasksModule(func(e domain.Recorded) error {
		if e.Event.EventType() == "tasks.task.added" && failures.Add(1) <= 2 {
			return &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
		}
		return nil
	})
	f := moduleFixture(t, tasks)
	id := f.createTenant(t)
	f.append(t, id, "tasks.list", taskAdded{ID: "a", Title: "Write"})
	p := f.moduleProjector(tasks)
	runProjector(t, p)
	p.Notify(id)
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, f.head(t, id), 30*time.Second, p.Names()...))
	require.Equal(t, int64(1), f.count(t, id, `SELECT count(*) FROM tasks_items`))
	require.GreaterOrEqual(t, failures.Load(), int64(3))
	require.Zero(t, p.Poisoned())
}

// withoutProjections is m as a first version of it had been: events, no projections.
func withoutProjections(m module.Module) module.Module {
	m.Projections = nil
	return m
}

// A module projection added to a binary later catches up on every tenant: the backlog scan names the
// module's projections, and its checkpoint starts at 0 (the tenant's whole stream).
func TestProjectionBacklog_NamesTheModulesProjections(t *testing.T) {
	t.Parallel()
	tasks := tasksModule(nil)
	f := moduleFixture(t, tasks)
	id := f.createTenant(t)
	f.append(t, id, "tasks.list", taskAdded{ID: "a", Title: "Write"})
	f.projectAll(t, f.moduleProjector(withoutProjections(tasks)), id) // the module's first version had no projection
	_, failed := f.checkpoints(t, id)
	require.Empty(t, failed)

	core, err := f.store.ProjectionBacklog(context.Background(), 1000)
	require.NoError(t, err)
	require.NotContains(t, core, id)
	p := f.moduleProjector(tasks)
	all, err := f.store.ProjectionBacklog(context.Background(), 1000, p.Names()...)
	require.NoError(t, err)
	require.Contains(t, all, id)
	behind, err := f.store.ProjectionsBehind(context.Background(), 1000, p.Names()...)
	require.NoError(t, err)
	require.Equal(t, []int64{f.head(t, id)}, behind)
	head, projected, err := f.store.Progress(context.Background(), id, p.Names()...)
	require.NoError(t, err)
	require.Equal(t, f.head(t, id), head)
	require.Zero(t, projected)

	runProjector(t, p) // its first backlog scan finds the tenant
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, head, 30*time.Second, tasksItems))
	require.Equal(t, int64(1), f.count(t, id, `SELECT count(*) FROM tasks_items`))
}

// The group fast path takes tenants whose new events are all usage records; their module
// projections still run (here: a module that arrived after their module events were
// written, so its whole backlog waits behind usage-only batches).
func TestModuleProjection_RunsForTenantsOnTheGroupFastPath(t *testing.T) {
	t.Parallel()
	tasks := tasksModule(nil)
	f := moduleFixture(t, tasks)
	const tenants = 24
	ids := make([]uuid.UUID, tenants)
	for i := range ids {
		ids[i] = f.createTenant(t)
		f.append(t, ids[i], "tasks.list", taskAdded{ID: "a", Title: "Write"}, taskAdded{ID: "b", Title: "Test"})
	}
	f.projectAll(t, f.moduleProjector(withoutProjections(tasks)), ids...) // the module's first version had no projection
	for i, id := range ids {
		f.append(t, id, usage.StreamID, usageEvent(t, i), usageEvent(t, i+100))
	}

	p := f.moduleProjector(tasks)
	p.Workers = 1
	var usageAlone atomic.Int64
	p.onAttempt = func(_ uuid.UUID, name string, _ error) {
		if name == ProjectionUsage {
			usageAlone.Add(1)
		}
	}
	for _, id := range ids {
		p.Notify(id)
	}
	runProjector(t, p)
	for _, id := range ids {
		head := f.head(t, id)
		require.NoError(t, f.store.WaitForProjections(context.Background(), id, head, 30*time.Second, p.Names()...))
		require.Equal(t, int64(2), f.count(t, id, `SELECT count(*) FROM tasks_items`))
		require.Equal(t, int64(2), f.count(t, id, `SELECT coalesce(sum(quantity), 0) FROM usage_daily`))
		seqs, failed := f.checkpoints(t, id)
		require.Empty(t, failed)
		require.Equal(t, head, seqs[tasksItems])
	}
	require.Less(t, usageAlone.Load(), int64(tenants), "some tenants' usage went through the group fast path")
}

// A rebuild replays every projection into the shadow schema, the modules' included (an
// event Tenantry and a module both handle goes to both), and gives the same model as the
// live projector, whatever the events; the swap sets every projection's checkpoint.
func TestRebuild_OfModuleProjectionsEqualsLive(t *testing.T) {
	t.Parallel()
	tasks, notes := tasksModule(nil), notesModule()
	f := moduleFixture(t, tasks, notes)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	id := f.createTenant(t)
	var open []string
	for i := 0; i < 150; i++ {
		switch r := rng.IntN(10); {
		case r < 3:
			task := fmt.Sprintf("t%d", i)
			open = append(open, task)
			f.append(t, id, "tasks.list", taskAdded{ID: task, Title: "Task " + task})
		case r < 4 && len(open) > 0:
			k := rng.IntN(len(open))
			f.append(t, id, "tasks.list", taskDone{ID: open[k]})
			open = append(open[:k], open[k+1:]...)
		case r < 6:
			f.append(t, id, "notes.n", noteAdded{Text: fmt.Sprintf("note %d", i)})
		case r < 9:
			f.append(t, id, usage.StreamID, usageEvent(t, i))
		default:
			f.append(t, id, tenant.StreamID, tenant.Renamed{Name: mustName(t, fmt.Sprintf("Name %d", i))})
		}
	}
	p := f.moduleProjector(tasks, notes)
	p.BatchSize = 7 // many batches, cut anywhere
	f.projectAll(t, p, id)
	tables := append(append([]string(nil), readModelTables...), moduleTables...)
	live := f.snapshotOf(t, id, tables)
	require.NotEmpty(t, live["tasks_log"])
	require.NotEmpty(t, live["notes_counts"])

	require.NoError(t, p.Rebuild(context.Background(), id, nil))
	require.Equal(t, live, f.snapshotOf(t, id, tables))
	head := f.head(t, id)
	seqs, failed := f.checkpoints(t, id)
	require.Empty(t, failed)
	require.Equal(t, map[string]int64{ProjectionAuth: head, ProjectionUsage: head, tasksItems: head, notesCounts: head}, seqs)

	// The projector goes on from the rebuilt checkpoints, applying nothing twice.
	f.append(t, id, "tasks.list", taskAdded{ID: "late", Title: "Late"})
	f.append(t, id, usage.StreamID, usageEvent(t, 1000))
	f.projectAll(t, p, id)
	require.Equal(t, int64(1), f.count(t, id, `SELECT count(*) FROM tasks_items WHERE id = 'late'`))
}

// snapshotOf is snapshot over the given tables.
func (f *fixture) snapshotOf(t testing.TB, id uuid.UUID, tables []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	f.inTenant(t, id, func(tx pgx.Tx) {
		for _, table := range tables {
			var rows *string
			require.NoError(t, tx.QueryRow(context.Background(),
				fmt.Sprintf(`SELECT string_agg(r::text, '|' ORDER BY r::text) FROM %s r`, pgx.Identifier{table}.Sanitize())).Scan(&rows))
			if rows != nil {
				out[table] = *rows
			}
		}
	})
	return out
}

// The group fast path moves, with the usage checkpoint, the checkpoints of the projections
// that pass over usage records: module projections handling none of them, and the webhooks
// projection of a tenant no enabled endpoint could want; so those need no transaction of
// their own per usage batch. The webhooks projection of a tenant with an endpoint is not
// carried: its records are queued for delivery by its own batch.
func TestProjector_GroupFastPathCarriesTheProjectionsThatPassOverUsage(t *testing.T) {
	f := moduleFixture(t, tasksModule(nil), notesModule())
	p := f.moduleProjector(tasksModule(nil), notesModule())
	p.Webhooks = true
	ctx := context.Background()
	quiet, hooked := f.createTenant(t), f.createTenant(t)
	f.projectAll(t, p, quiet, hooked)
	app := eventstore.New(pgtest.Pool(t, f.db.AppURL, 2))
	ep, err := app.CreateWebhookEndpoint(ctx, eventstore.WebhookEndpoint{ID: uuid.New(), Owner: hooked, URL: "https://example.com/h",
		EventTypes: []string{"*"}, SecretSealed: []byte("sealed")}, 16)
	require.NoError(t, err)
	for _, id := range []uuid.UUID{quiet, hooked} {
		f.append(t, id, usage.StreamID, usageEvent(t, 1), usageEvent(t, 2))
	}

	more, carried := map[uuid.UUID]bool{}, map[uuid.UUID][]string{}
	alone, err := p.projectGroup(ctx, []uuid.UUID{quiet, hooked}, more, carried)
	require.NoError(t, err)
	require.Empty(t, alone)
	require.ElementsMatch(t, []string{tasksItems, notesCounts, ProjectionWebhooks}, carried[quiet])
	require.ElementsMatch(t, []string{tasksItems, notesCounts}, carried[hooked])
	seqs, _ := f.checkpoints(t, quiet)
	for _, name := range p.Names() {
		require.Equal(t, f.head(t, quiet), seqs[name], name)
	}
	seqs, _ = f.checkpoints(t, hooked)
	require.Less(t, seqs[ProjectionWebhooks], f.head(t, hooked), "left for its own batch")
	require.Equal(t, f.head(t, hooked), seqs[tasksItems])

	// What the fast path left is done by the tenant's own batches: the records are queued.
	require.False(t, p.projectModules(ctx, hooked, carried[hooked]))
	seqs, _ = f.checkpoints(t, hooked)
	require.Equal(t, f.head(t, hooked), seqs[ProjectionWebhooks])
	ds, err := app.WebhookDeliveries(ctx, hooked, ep.ID, nil, 10)
	require.NoError(t, err)
	require.Len(t, ds, 2)
}
