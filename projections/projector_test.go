package projections

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

type fixture struct {
	db    *pgtest.DB
	pool  *pgxpool.Pool
	store *eventstore.Store
	reg   *eventstore.Registry
}

func newFixture(t *testing.T, conns int32) *fixture {
	return fixtureOn(t, testDB, conns)
}

// isolatedFixture has a database of its own, for tests that must not meet the projectors
// other tests run on the shared one.
func isolatedFixture(t *testing.T, conns int32) *fixture {
	return fixtureOn(t, pgtest.New(t), conns)
}

func fixtureOn(t *testing.T, db *pgtest.DB, conns int32) *fixture {
	pool := pgtest.Pool(t, db.WorkerURL, conns) // the projector, rebuilds and provisioning are the worker's
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	return &fixture{db: db, pool: pool, store: eventstore.New(pool), reg: reg}
}

func (f *fixture) projector() *Projector {
	return &Projector{Store: f.store, Registry: f.reg, Logger: slog.New(slog.DiscardHandler), BatchSize: 50, PollInterval: 50 * time.Millisecond}
}

func (f *fixture) append(t testing.TB, id uuid.UUID, stream string, events ...domain.Event) {
	t.Helper()
	require.NoError(t, f.tryAppend(id, stream, events...))
}

// tryAppend is append for goroutines other than the test's, which must not call require.
func (f *fixture) tryAppend(id uuid.UUID, stream string, events ...domain.Event) error {
	proposed := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		var err error
		if proposed[i], err = f.reg.Encode(e, eventstore.Metadata{Actor: "test"}); err != nil {
			return fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
	}
	if _, err := f.store.Append(context.Background(), id, stream, eventstore.Any, proposed...); err != nil {
		return fmt.Errorf("append to tenant %s: %w", id, err)
	}
	return nil
}

// createTenant appends tenant.created and the founder for a fresh tenant.
func (f *fixture) createTenant(t testing.TB) uuid.UUID {
	t.Helper()
	id, err := f.tryCreateTenant()
	require.NoError(t, err)
	return id
}

// tryCreateTenant is createTenant for goroutines other than the test's.
func (f *fixture) tryCreateTenant() (uuid.UUID, error) {
	id := uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	slug, err := domain.ParseSlug("t-" + strings.ReplaceAll(id.String(), "-", "")[:20])
	if err != nil {
		return id, err
	}
	created, err := tenant.Create(id, "Tenant "+id.String()[:8], slug, domain.PlanPro, now)
	if err != nil {
		return id, err
	}
	if err := f.tryAppend(id, tenant.StreamID, created...); err != nil {
		return id, err
	}
	email, err := domain.ParseEmail("admin@" + id.String()[:8] + ".example.com")
	if err != nil {
		return id, err
	}
	joined, err := (&membership.Membership{}).AddFounder(uuid.New(), email, now)
	if err != nil {
		return id, err
	}
	return id, f.tryAppend(id, membership.StreamID, joined...)
}

func usageEvent(t testing.TB, n int) domain.Event {
	t.Helper()
	r, err := newUsageEvent(n)
	require.NoError(t, err)
	return r
}

// newUsageEvent is usageEvent for goroutines other than the test's.
func newUsageEvent(n int) (domain.Event, error) {
	metric, _ := usage.ParseMetric("api_calls")
	q, _ := usage.NewQuantity(1)
	key, _ := usage.ParseIdempotencyKey(fmt.Sprintf("k-%d-%d", n, rand.Int64()))
	now := time.Now().UTC()
	return usage.NewRecord(metric, q, now.Add(-time.Minute), key, now)
}

// inTenant runs fn in a transaction with the tenant context and the tenant's schema.
func (f *fixture) inTenant(t testing.TB, id uuid.UUID, fn func(tx pgx.Tx)) {
	t.Helper()
	require.NoError(t, pgx.BeginFunc(context.Background(), f.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `SELECT set_config('tenantry.tenant_id', $1, true), set_config('search_path', tenantry.tenant_schema_name($1::uuid), true)`, id.String())
		if err != nil {
			return err
		}
		fn(tx)
		return nil
	}))
}

func (f *fixture) projectAll(t testing.TB, p *Projector, ids ...uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		for {
			more, err := p.ProjectBatch(context.Background(), id)
			require.NoError(t, err)
			if !more {
				break
			}
		}
	}
}

func TestProjector_BuildsTheReadModels(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	id := f.createTenant(t)
	now := time.Now().UTC()
	email, _ := domain.ParseEmail("editor@example.com")
	invitedBy := uuid.New()
	f.append(t, id, tenant.StreamID, tenant.Suspended{Reason: tenant.ReasonOperator, Note: "checking"})
	f.append(t, id, membership.StreamID, membership.Invited{InvitationID: uuid.New(), Email: email, Role: domain.RoleEditor,
		InvitedBy: invitedBy, TokenSHA256: strings.Repeat("ab", 32), ExpiresAt: now.Add(time.Hour)})
	for i := 0; i < 7; i++ {
		f.append(t, id, usage.StreamID, usageEvent(t, i))
	}
	p := f.projector()
	f.projectAll(t, p, id)

	f.inTenant(t, id, func(tx pgx.Tx) {
		var status, reason, plan string
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT status, suspend_reason, plan FROM profile`).Scan(&status, &reason, &plan))
		require.Equal(t, []string{"suspended", "operator", "pro"}, []string{status, reason, plan})
		var members, invitations, calls int
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM invitations WHERE status = 'pending'), (SELECT sum(quantity) FROM usage_daily)`).Scan(&members, &invitations, &calls))
		require.Equal(t, []int{1, 1, 7}, []int{members, invitations, calls})
	})
	require.NoError(t, f.store.WaitFor(context.Background(), id, 11, time.Second))
	require.ErrorIs(t, f.store.WaitFor(context.Background(), id, 12, 50*time.Millisecond), context.DeadlineExceeded)
}

// Exactly once: projectors are cancelled at random moments, mid-batch, while 100 tenants
// append; in the end every usage event was counted exactly once.
func TestProjector_ExactlyOnceThroughCancellations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 12)
	const tenants, perTenant = 100, 30
	ids := make([]uuid.UUID, tenants)
	for i := range ids {
		ids[i] = f.createTenant(t)
	}
	var wg sync.WaitGroup
	var appended atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < tenants*perTenant; i += 4 {
				e, err := newUsageEvent(i)
				if err == nil {
					err = f.tryAppend(ids[i%tenants], usage.StreamID, e)
				}
				if !assert.NoError(t, err) { // not require: not the test's goroutine
					return
				}
				appended.Add(1)
			}
		}(w)
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	for round := 0; ; round++ {
		p := f.projector()
		p.Workers = 3
		p.BatchSize = 7
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = p.Run(ctx); close(done) }()
		time.Sleep(time.Duration(5+rand.IntN(60)) * time.Millisecond)
		cancel() // lands mid-batch more often than not
		<-done
		select {
		case <-writersDone:
			if round > 10 {
				goto drain
			}
		default:
		}
	}
drain:
	p := f.projector()
	f.projectAll(t, p, ids...)
	for _, id := range ids {
		f.inTenant(t, id, func(tx pgx.Tx) {
			var calls, members int
			require.NoError(t, tx.QueryRow(context.Background(), `SELECT coalesce((SELECT sum(quantity) FROM usage_daily), 0), coalesce((SELECT sum(quantity) FROM usage_hourly), 0), (SELECT count(*) FROM members)`).Scan(&calls, new(int), &members))
			require.Equal(t, perTenant, calls, "tenant %s", id)
			require.Equal(t, 1, members)
		})
	}
	require.Equal(t, int64(tenants*perTenant), appended.Load())

	// And each model is exactly what a full rebuild from the events produces.
	for _, id := range ids {
		before := f.snapshot(t, id)
		require.NoError(t, p.Rebuild(context.Background(), id, nil))
		require.Equal(t, before, f.snapshot(t, id), "tenant %s", id)
	}
}

func TestProjector_PoisonEventStopsOnlyItsTenant(t *testing.T) {
	t.Parallel()
	f := isolatedFixture(t, 4)
	sick, healthy := f.createTenant(t), f.createTenant(t)
	f.append(t, sick, usage.StreamID, usageEvent(t, 1))
	_, err := f.store.Append(context.Background(), sick, "odd", eventstore.Any,
		eventstore.NewEvent{Type: "tenant.unknown_thing", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	f.append(t, sick, usage.StreamID, usageEvent(t, 2))
	f.append(t, healthy, usage.StreamID, usageEvent(t, 3))

	p := f.projector()
	p.Notify(sick)
	p.Notify(healthy)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	// Generous bounds: other tests load the machine meanwhile.
	require.NoError(t, f.store.WaitFor(context.Background(), healthy, 3, 30*time.Second))
	var mine []eventstore.ProjectionFailure
	pgtest.Until(t, 30*time.Second, 10*time.Millisecond, func() bool {
		failures, err := f.store.ProjectionFailures(context.Background())
		require.NoError(t, err)
		mine = mine[:0]
		for _, fl := range failures {
			if fl.Tenant == sick {
				mine = append(mine, fl)
			}
		}
		return len(mine) == 1
	})
	cancel()
	<-done
	require.Equal(t, int64(1), p.Poisoned())
	require.Equal(t, int64(1), p.PoisonedIn(ProjectionAuth), "an unknown event type is the auth projection's")
	require.Equal(t, ProjectionAuth, mine[0].Projection)
	require.Equal(t, int64(4), mine[0].FailedSeq)
	require.Equal(t, int64(3), mine[0].ProjectedSeq, "the events before the poison one are applied")
	// The usage projection is independent: it passes over the event and goes on.
	require.NoError(t, f.store.WaitForProjections(context.Background(), sick, 5, 30*time.Second, ProjectionUsage))
	f.inTenant(t, sick, func(tx pgx.Tx) {
		var calls int
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT sum(quantity) FROM usage_daily`).Scan(&calls))
		require.Equal(t, 2, calls)
	})
}

// Fairness: with one worker, a tenant's fresh event waits behind at most one batch of a
// tenant with a large backlog.
func TestProjector_BacklogDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	f := isolatedFixture(t, 4) // no other test's projector may take the quiet tenant first
	busy, quiet := f.createTenant(t), f.createTenant(t)
	for i := 0; i < 20; i++ {
		events := make([]domain.Event, 100)
		for j := range events {
			events[j] = usageEvent(t, i*100+j)
		}
		f.append(t, busy, usage.StreamID, events...)
	}
	f.append(t, quiet, usage.StreamID, usageEvent(t, 0))

	p := f.projector()
	p.Workers, p.BatchSize, p.PollInterval = 1, 100, time.Hour
	var mu sync.Mutex
	var order []uuid.UUID
	p.afterBatch = func(id uuid.UUID) { mu.Lock(); order = append(order, id); mu.Unlock() }
	p.Notify(busy)
	p.Notify(quiet) // arrives while busy has 2,000 events to go
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	require.NoError(t, f.store.WaitFor(context.Background(), quiet, 3, 10*time.Second))
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	busyBefore := 0
	for _, id := range order {
		if id == quiet {
			break
		}
		if id == busy {
			busyBefore++
		}
	}
	require.LessOrEqual(t, busyBefore, 1, "batches of the busy tenant before the quiet one: %d", busyBefore)
}

// Events of a product this binary does not run (a type outside Tenantry's namespaces that no
// module here declares, written by the product's own binary on the same database) are
// passed over: they never stop a tenant's authorisation state.
func TestProjector_PassesOverAnotherBinarysProductEvents(t *testing.T) {
	t.Parallel()
	f := isolatedFixture(t, 4)
	id := f.createTenant(t)
	_, err := f.store.Append(context.Background(), id, "tasks.project-1", eventstore.Any,
		eventstore.NewEvent{Type: "tasks.project.created", SchemaVersion: 2, Data: []byte(`{"name":"x"}`)})
	require.NoError(t, err)
	f.append(t, id, usage.StreamID, usageEvent(t, 1))

	p := f.projector()
	p.Notify(id)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, 4, 30*time.Second, ProjectionAuth, ProjectionUsage))
	require.Zero(t, p.Poisoned())
	require.NoError(t, p.Rebuild(context.Background(), id, nil), "a rebuild passes over them too")
}

func eventsOfUnknownType() eventstore.NewEvent {
	return eventstore.NewEvent{Type: "tenant.unknown_thing", SchemaVersion: 1, Data: []byte(`{}`)}
}

// The group fast path writes usage-only batches of many tenants in one transaction and
// hands back every tenant it must not take: new ones (to provision) and other event types.
func TestProjector_GroupFastPathTakesOnlyUsageBatches(t *testing.T) {
	f := isolatedFixture(t, 4)
	p := f.projector()
	simple := []uuid.UUID{f.createTenant(t), f.createTenant(t)}
	mixed := f.createTenant(t)
	fresh := f.createTenant(t)
	f.projectAll(t, p, append(simple, mixed)...)
	for i, id := range simple {
		f.append(t, id, usage.StreamID, usageEvent(t, i), usageEvent(t, i+10))
	}
	f.append(t, mixed, usage.StreamID, usageEvent(t, 20))
	f.append(t, mixed, tenant.StreamID, tenant.Suspended{Reason: tenant.ReasonOperator})

	more := map[uuid.UUID]bool{}
	alone, err := p.projectGroup(context.Background(), []uuid.UUID{simple[0], mixed, fresh, simple[1]}, more, map[uuid.UUID][]string{})
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{mixed, fresh}, alone)
	for _, id := range simple {
		require.NoError(t, f.store.WaitFor(context.Background(), id, 4, time.Second))
		f.inTenant(t, id, func(tx pgx.Tx) {
			var calls int
			require.NoError(t, tx.QueryRow(context.Background(), `SELECT sum(quantity) FROM usage_hourly`).Scan(&calls))
			require.Equal(t, 2, calls)
		})
	}
	require.ErrorIs(t, f.store.WaitFor(context.Background(), mixed, 3, 50*time.Millisecond), context.DeadlineExceeded, "left for the one-by-one path")
	// The fast path moved the auth checkpoints of the usage-only tenants over their usage
	// events (exact: the auth projection applies none of them), and nobody else's.
	for _, id := range simple {
		require.NoError(t, f.store.WaitForProjections(context.Background(), id, 4, time.Second, ProjectionAuth))
	}
	require.ErrorIs(t, f.store.WaitForProjections(context.Background(), mixed, 4, 50*time.Millisecond, ProjectionAuth), context.DeadlineExceeded)
}

// A projector's settings stay as they were given while it runs: unset ones mean their
// defaults without being written (a running component never rewrites its own config).
func TestProjector_RunsOnItsDefaultsWithoutWritingThem(t *testing.T) {
	f := newFixture(t, 4)
	id := f.createTenant(t)
	head, _, err := f.store.Head(context.Background(), id)
	require.NoError(t, err)
	p := &Projector{Store: f.store, Registry: f.reg, Logger: slog.New(slog.DiscardHandler)}
	runProjector(t, p)
	p.Notify(id)
	require.NoError(t, f.store.WaitFor(context.Background(), id, head, 30*time.Second), "projects on its defaults")
	require.Zero(t, p.Workers)
	require.Zero(t, p.BatchSize)
	require.Zero(t, p.PollInterval)
}
