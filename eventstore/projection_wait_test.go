package eventstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// A projection transaction tells this process's waiters of the checkpoints it moved, but
// only once it has committed: a waiter woken by a batch that rolled back would read read
// models that do not include its seq.
func TestInProjection_WakesWaitersOnlyWhenItCommits(t *testing.T) {
	t.Parallel()
	store := eventstore.New(pgtest.Pool(t, testDB.WorkerURL, 4))
	ctx := context.Background()
	tenant := uuid.Must(uuid.NewV7())
	move := func(rollback bool) error {
		return store.InProjection(ctx, tenant, func(tx *eventstore.ProjectionTx) error {
			if _, _, _, err := tx.Lock(ctx, eventstore.ProjectionUsage, ""); err != nil {
				return err
			}
			tx.SaveCheckpoint(eventstore.ProjectionUsage, 5)
			if err := tx.Flush(ctx); err != nil {
				return err
			}
			if rollback {
				return errRollback
			}
			return nil
		})
	}

	waited := make(chan error, 1)
	go func() { waited <- store.WaitForProjections(ctx, tenant, 5, time.Second, eventstore.ProjectionUsage) }()
	rolledBack := 0
	for done := false; !done; {
		select {
		case err := <-waited:
			require.ErrorIs(t, err, context.DeadlineExceeded, "a waiter woke after %d rolled-back batches", rolledBack)
			done = true
		default:
			require.ErrorIs(t, move(true), errRollback)
			rolledBack++
		}
	}
	require.Positive(t, rolledBack)

	require.NoError(t, move(false))
	require.NoError(t, store.WaitForProjections(ctx, tenant, 5, 10*time.Second, eventstore.ProjectionUsage))
	head, projected, err := store.Progress(ctx, tenant)
	require.NoError(t, err)
	require.Equal(t, [2]int64{0, 0}, [2]int64{head, projected}, "the auth projection has no checkpoint, so nothing is projected as a whole")
}

var errRollback = errors.New("roll back")
