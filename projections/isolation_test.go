package projections

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/big"
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
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/pguuid"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// rawUsage appends usage records as stored before usage.MaxQuantity existed (or as a
// forged event would carry them): quantities the API refuses today.
func (f *fixture) rawUsage(t *testing.T, id uuid.UUID, quantities ...int64) {
	t.Helper()
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	recs := ""
	for i, q := range quantities {
		if i > 0 {
			recs += ","
		}
		recs += fmt.Sprintf(`{"metric":"api_calls","quantity":%d,"occurred_at":%q,"idempotency_key":"raw-%s"}`, q, at, uuid.NewString())
	}
	e := eventstore.NewEvent{Type: usage.TypeBatchRecorded, SchemaVersion: 1, Data: []byte(`{"records":[` + recs + `]}`)}
	if len(quantities) == 1 {
		e = eventstore.NewEvent{Type: usage.TypeRecorded, SchemaVersion: 1, Data: []byte(recs)}
	}
	_, err := f.store.Append(context.Background(), id, usage.StreamID, eventstore.Any, e)
	require.NoError(t, err)
}

// runProjector runs p until the test ends.
func runProjector(t *testing.T, p *Projector) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (f *fixture) revokeFounderKey(t *testing.T, id uuid.UUID) int64 {
	t.Helper()
	keyID := uuid.New()
	hash := fmt.Sprintf("%064x", 1)
	f.append(t, id, "keys", membership.APIKeyCreated{KeyID: keyID, MemberID: uuid.New(), Role: domain.RoleEditor, Prefix: "tk_" + keyID.String(), KeySHA256: hash})
	f.append(t, id, "keys", membership.APIKeyRevoked{KeyID: keyID, Reason: "revoked"})
	head, _, err := f.store.Head(context.Background(), id)
	require.NoError(t, err)
	return head
}

// The attack: records of maximal quantity in one event made the hourly sum overflow, and
// the projector retried the whole tenant every 200 ms forever, so revocations and status
// changes were never projected. Now the event stops the usage projection only: isolated,
// listed with its projection, counted; the auth projection goes on.
func TestProjector_UsageOverflowStopsOnlyTheUsageProjection(t *testing.T) {
	t.Parallel()
	f := isolatedFixture(t, 4)
	p := f.projector()
	id := f.createTenant(t)
	f.rawUsage(t, id, math.MaxInt64, math.MaxInt64) // seq 3: one event that overflows alone
	f.append(t, id, usage.StreamID, usageEvent(t, 1))
	head := f.createKeyAndRevoke(t, id)
	runProjector(t, p)
	p.Notify(id)

	require.NoError(t, f.store.WaitForProjections(context.Background(), id, head, 30*time.Second, ProjectionAuth),
		"the auth projection applies the revocation after the poison usage event")
	start := time.Now()
	err := f.store.WaitForProjections(context.Background(), id, head, 30*time.Second, ProjectionUsage)
	require.ErrorIs(t, err, eventstore.ErrProjectionStopped)
	require.Less(t, time.Since(start), 5*time.Second, "a stopped projection ends the wait at once")

	failures, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	require.Len(t, failures, 1)
	require.Equal(t, id, failures[0].Tenant)
	require.Equal(t, ProjectionUsage, failures[0].Projection)
	require.Equal(t, int64(3), failures[0].FailedSeq)
	require.Equal(t, int64(1), p.PoisonedIn(ProjectionUsage))
	require.Equal(t, int64(0), p.PoisonedIn(ProjectionAuth))
	f.inTenant(t, id, func(tx pgx.Tx) {
		var revoked bool
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT bool_and(revoked_at IS NOT NULL) FROM api_keys`).Scan(&revoked))
		require.True(t, revoked)
		var rows int
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT count(*) FROM usage_hourly WHERE quantity < 0`).Scan(&rows))
		require.Zero(t, rows, "nothing wrapped around")
	})
}

func (f *fixture) createKeyAndRevoke(t *testing.T, id uuid.UUID) int64 {
	return f.revokeFounderKey(t, id)
}

// Two maximal records in separate events: the window's total is beyond an int64, which the
// numeric read model holds exactly; nothing stops, nothing wraps around.
func TestProjector_WindowTotalBeyondInt64NeitherFreezesNorWraps(t *testing.T) {
	t.Parallel()
	f := isolatedFixture(t, 4)
	p := f.projector()
	id := f.createTenant(t)
	f.rawUsage(t, id, math.MaxInt64)
	f.rawUsage(t, id, math.MaxInt64)
	f.append(t, id, usage.StreamID, usageEvent(t, 1))
	head, _, err := f.store.Head(context.Background(), id)
	require.NoError(t, err)
	runProjector(t, p)
	p.Notify(id)
	require.NoError(t, f.store.WaitFor(context.Background(), id, head, 30*time.Second))
	failures, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	require.Empty(t, failures)
	want := new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(2))
	want.Add(want, big.NewInt(1))
	require.NoError(t, f.store.InTenant(context.Background(), id, true, func(tx *eventstore.Tx) error {
		points, err := tx.UsageSeries(context.Background(), "api_calls", time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour), true)
		require.NoError(t, err)
		require.Len(t, points, 1)
		require.NotNil(t, points[0].Big)
		require.Equal(t, want.String(), points[0].Total().String())
		return nil
	}))
}

// A batch-level write that fails deterministically (here a broken usage table) is
// attributed to one event and stops the projection; it is not retried.
func TestProjector_DeterministicBatchWriteErrorIsIsolatedNotRetried(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	f := fixtureOn(t, db, 4)
	super := pgtest.Pool(t, db.SuperURL, 2)
	p := f.projector()
	id := f.createTenant(t)
	f.projectAll(t, p, id)
	_, err := super.Exec(context.Background(), `ALTER TABLE `+pgx.Identifier{"tenant_" + hexID(id)}.Sanitize()+`.usage_hourly ADD CONSTRAINT broken CHECK (quantity < 5)`)
	require.NoError(t, err)
	f.append(t, id, usage.StreamID, usageEvent(t, 1), usageEvent(t, 2)) // seq 3, 4: fine alone
	f.rawUsage(t, id, 7)                                                // seq 5: breaks the table's rule
	f.append(t, id, usage.StreamID, usageEvent(t, 3))                   // seq 6

	attempts, logged := watchFailures(p, id, ProjectionUsage)
	runProjector(t, p)
	p.Notify(id)
	untilFailures(t, f, 1)
	fl, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(5), fl[0].FailedSeq)
	require.Equal(t, int64(4), fl[0].ProjectedSeq, "the events before it are applied")
	require.Equal(t, ProjectionUsage, fl[0].Projection)
	time.Sleep(time.Second) // the old projector retried every 200 ms
	for i := 0; i < 5; i++ {
		p.Notify(id)
	}
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, int64(1), attempts.Load(), "a deterministic failure is attempted once")
	require.Equal(t, int64(1), logged.Load(), "and logged once")
	require.Equal(t, int64(1), p.Poisoned())
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, 6, 10*time.Second, ProjectionAuth))
}

// A transient error (here a trigger raising serialization_failure) is retried with a
// growing pause, and it never stops the projection.
func TestProjector_TransientErrorBacksOff(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	f := fixtureOn(t, db, 4)
	super := pgtest.Pool(t, db.SuperURL, 2)
	p := f.projector()
	id := f.createTenant(t)
	f.projectAll(t, p, id)
	schema := pgx.Identifier{"tenant_" + hexID(id)}.Sanitize()
	_, err := super.Exec(context.Background(), `CREATE FUNCTION `+schema+`.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END $$;
		CREATE TRIGGER flaky BEFORE INSERT ON `+schema+`.usage_hourly FOR EACH ROW EXECUTE FUNCTION `+schema+`.flaky()`)
	require.NoError(t, err)
	f.append(t, id, usage.StreamID, usageEvent(t, 1))

	var mu sync.Mutex
	var at []time.Time
	p.onAttempt = func(tenant uuid.UUID, name string, err error) {
		if tenant == id && name == ProjectionUsage && err != nil {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
		}
	}
	runProjector(t, p)
	p.Notify(id)
	time.Sleep(2500 * time.Millisecond)
	mu.Lock()
	n := len(at)
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]))
	}
	mu.Unlock()
	require.GreaterOrEqual(t, n, 2, "a transient error is retried")
	require.LessOrEqual(t, n, 6, "retries back off (a fixed 200 ms pause would make about 12)")
	if len(gaps) >= 3 {
		require.Greater(t, gaps[len(gaps)-1], gaps[0], "the pause grows: %v", gaps)
	}
	fl, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	require.Empty(t, fl, "a transient error never stops a projection")
	head := f.revokeFounderKey(t, id)
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, head, 10*time.Second, ProjectionAuth),
		"the auth projection is not held up by the usage projection's retries")
	_, err = super.Exec(context.Background(), `DROP TRIGGER flaky ON `+schema+`.usage_hourly`)
	require.NoError(t, err)
	require.NoError(t, f.store.WaitFor(context.Background(), id, head, 30*time.Second), "recovers once the error goes")
}

// Requests waiting for a seq share one poll of the checkpoints per process: many waiters
// cost about as many queries as one, not one every 10 ms each.
func TestWaitFor_WaitersShareOnePoll(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	f := fixtureOn(t, db, 4)
	id := f.createTenant(t)
	f.projectAll(t, f.projector(), id)

	var queries atomic.Int64
	cfg, err := pgxpool.ParseConfig(db.AppURL)
	require.NoError(t, err)
	cfg.AfterConnect = pguuid.AfterConnect
	cfg.ConnConfig.Tracer = countingTracer{&queries}
	counted, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(counted.Close)

	const waiters = 40
	var wg sync.WaitGroup
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := eventstore.New(counted).WaitFor(context.Background(), id, 1_000_000, time.Second)
			assert.ErrorIs(t, err, context.DeadlineExceeded) // not require: not the test's goroutine
		}()
	}
	wg.Wait()
	// One poll every WaitPollInterval (begin, the tenant context, the checkpoints,
	// commit): about 80 statements in a second. Polling per waiter every 10 ms made
	// 40 × 100 × 3 = 12,000.
	require.Less(t, queries.Load(), int64(200), "statements for %d waiters over one second", waiters)
}

type countingTracer struct{ n *atomic.Int64 }

func (c countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c countingTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c countingTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}

func (countingTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func hexID(id uuid.UUID) string { return fmt.Sprintf("%x", id[:]) }

// countingHandler counts log records whose message starts with msg.
type countingHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.msg) {
		h.n.Add(1)
	}
	return nil
}

func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h countingHandler) WithGroup(string) slog.Handler { return h }

// A rebuild is how an operator repairs a stopped projection: it replays every event into a
// fresh schema, sets both projections' checkpoints and clears the failure, and the
// projector goes on from there.
func TestRebuild_RepairsAStoppedUsageProjection(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	f := fixtureOn(t, db, 4)
	super := pgtest.Pool(t, db.SuperURL, 2)
	p := f.projector()
	id := f.createTenant(t)
	f.projectAll(t, p, id)
	_, err := super.Exec(context.Background(), `ALTER TABLE `+pgx.Identifier{"tenant_" + hexID(id)}.Sanitize()+`.usage_hourly ADD CONSTRAINT broken CHECK (quantity < 0)`)
	require.NoError(t, err)
	f.append(t, id, usage.StreamID, usageEvent(t, 1))
	head := f.revokeFounderKey(t, id)
	f.projectAll(t, p, id)
	require.ErrorIs(t, f.store.WaitForProjections(context.Background(), id, head, 10*time.Second, ProjectionUsage), eventstore.ErrProjectionStopped)
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, head, 10*time.Second, ProjectionAuth))

	require.NoError(t, p.Rebuild(context.Background(), id, nil))
	fl, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	require.Empty(t, fl)
	require.NoError(t, f.store.WaitFor(context.Background(), id, head, 10*time.Second))
	f.append(t, id, usage.StreamID, usageEvent(t, 2))
	f.projectAll(t, p, id)
	require.NoError(t, f.store.WaitFor(context.Background(), id, head+1, 10*time.Second))
	f.inTenant(t, id, func(tx pgx.Tx) {
		var calls int
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT sum(quantity) FROM usage_daily`).Scan(&calls))
		require.Equal(t, 2, calls)
	})
}

// watchFailures counts p's failed attempts at tenant's projection name and its "projection
// stopped" log lines.
func watchFailures(p *Projector, tenant uuid.UUID, name string) (attempts, logged *atomic.Int64) {
	attempts, logged = new(atomic.Int64), new(atomic.Int64)
	p.Logger = slog.New(countingHandler{msg: "projection stopped", n: logged})
	p.onAttempt = func(t uuid.UUID, n string, err error) {
		if t == tenant && n == name && err != nil {
			attempts.Add(1)
		}
	}
	return attempts, logged
}

// untilFailures waits (up to 30 s) until n projection failures are listed.
func untilFailures(t *testing.T, f *fixture, n int) {
	t.Helper()
	pgtest.Until(t, 30*time.Second, 20*time.Millisecond, func() bool {
		fl, err := f.store.ProjectionFailures(context.Background())
		require.NoError(t, err)
		return len(fl) == n
	})
}
