package projections

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// The audit's case: an event that fails in the projector's own Go code, not in PostgreSQL
// (here the revocation of a key that does not exist: "api key ... missing"), was taken for
// a transient error and retried with backoff forever, so the auth projection froze without
// ever being listed. Now it stops the auth projection at that event, once: isolated,
// listed, counted, logged once; the usage projection goes on.
func TestProjector_GoSideApplyErrorIsIsolatedNotRetried(t *testing.T) {
	t.Parallel()
	f := isolatedFixture(t, 4)
	p := f.projector()
	id := f.createTenant(t)
	f.projectAll(t, p, id)
	f.append(t, id, "keys", membership.APIKeyRevoked{KeyID: uuid.New(), Reason: "revoked"}) // seq 3: no such key
	f.append(t, id, usage.StreamID, usageEvent(t, 1))                                       // seq 4

	attempts, logged := watchFailures(p, id, ProjectionAuth)
	runProjector(t, p)
	p.Notify(id)
	untilFailures(t, f, 1)
	fl, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	require.Equal(t, ProjectionAuth, fl[0].Projection)
	require.Equal(t, int64(3), fl[0].FailedSeq)
	require.Equal(t, int64(2), fl[0].ProjectedSeq)
	require.ErrorIs(t, f.store.WaitForProjections(context.Background(), id, 3, 5*time.Second, ProjectionAuth), eventstore.ErrProjectionStopped)
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, 4, 10*time.Second, ProjectionUsage),
		"the usage projection is not held up by the stopped auth projection")

	time.Sleep(time.Second) // the old projector retried after 200 ms, 400 ms, ...
	for i := 0; i < 5; i++ {
		p.Notify(id)
	}
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, int64(1), attempts.Load(), "a deterministic failure is attempted once")
	require.Equal(t, int64(1), logged.Load(), "and logged once")
	require.Equal(t, int64(1), p.PoisonedIn(ProjectionAuth))
}

// A transient error that never clears (here a trigger raising serialization_failure on
// every write) is retried with backoff, but not forever: after GiveUpAttempts attempts over
// GiveUpAfter it is recorded as the projection's failure, listed, counted and logged once,
// so an operator sees it. It used to be retried every 30 s without end, visible only as
// warnings.
func TestProjector_TransientErrorThatNeverClearsIsRecordedAfterABound(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	f := fixtureOn(t, db, 4)
	super := pgtest.Pool(t, db.SuperURL, 2)
	p := f.projector()
	p.GiveUpAttempts, p.GiveUpAfter = 4, 500*time.Millisecond
	id := f.createTenant(t)
	f.projectAll(t, p, id)
	schema := pgx.Identifier{"tenant_" + hexID(id)}.Sanitize()
	_, err := super.Exec(context.Background(), `CREATE FUNCTION `+schema+`.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END $$;
		CREATE TRIGGER flaky BEFORE INSERT ON `+schema+`.usage_hourly FOR EACH ROW EXECUTE FUNCTION `+schema+`.flaky()`)
	require.NoError(t, err)
	f.append(t, id, usage.StreamID, usageEvent(t, 1)) // seq 3

	attempts, logged := watchFailures(p, id, ProjectionUsage)
	start := time.Now()
	runProjector(t, p)
	p.Notify(id)
	untilFailures(t, f, 1)
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "not before GiveUpAfter")
	fl, err := f.store.ProjectionFailures(context.Background())
	require.NoError(t, err)
	require.Equal(t, ProjectionUsage, fl[0].Projection)
	require.Equal(t, int64(3), fl[0].FailedSeq, "stopped at its first unapplied event")
	require.Contains(t, fl[0].Error, "transient error persisted")
	n := attempts.Load()
	require.GreaterOrEqual(t, n, int64(4), "retried GiveUpAttempts times first")

	time.Sleep(time.Second)
	p.Notify(id)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, n, attempts.Load(), "a recorded failure is not retried")
	require.Equal(t, int64(1), logged.Load(), "and logged once")
	require.Equal(t, int64(1), p.PoisonedIn(ProjectionUsage))
	head := f.revokeFounderKey(t, id)
	require.NoError(t, f.store.WaitForProjections(context.Background(), id, head, 10*time.Second, ProjectionAuth),
		"the auth projection goes on")
}
