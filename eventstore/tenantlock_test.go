package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func TestWithTenantLock_OneHolderPerTenantAndClass_ReleasedWhenFnReturns(t *testing.T) {
	t.Parallel()
	s := workerStore(t, 4)
	// Advisory locks are re-entrant within a session: whether one was released is asked
	// of another session (another pool).
	other := workerStore(t, 1)
	a, b := newTenant(t), newTenant(t)
	ran := func(context.Context) error { return nil }

	err := s.WithTenantLock(ctx(t), eventstore.LockBillingJob, a, func(ctx context.Context) error {
		require.ErrorIs(t, s.WithTenantLock(ctx, eventstore.LockBillingJob, a, ran), eventstore.ErrLockBusy, "A's lock is held")
		require.NoError(t, s.WithTenantLock(ctx, eventstore.LockBillingJob, b, ran), "B's is another lock")
		require.NoError(t, s.WithTenantLock(ctx, eventstore.LockDirectory, a, ran), "so is another class's")
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, other.WithTenantLock(ctx(t), eventstore.LockBillingJob, a, ran), "released once fn returned")

	boom := errors.New("boom")
	require.ErrorIs(t, s.WithTenantLock(ctx(t), eventstore.LockBillingJob, a, func(context.Context) error { return boom }), boom)
	require.NoError(t, other.WithTenantLock(ctx(t), eventstore.LockBillingJob, a, ran), "released after fn failed")

	// A caller whose context ends while it holds the lock still releases it.
	cctx, cancel := context.WithCancel(ctx(t))
	require.ErrorIs(t, s.WithTenantLock(cctx, eventstore.LockBillingJob, a, func(ctx context.Context) error {
		cancel()
		return ctx.Err()
	}), context.Canceled)
	require.NoError(t, other.WithTenantLock(ctx(t), eventstore.LockBillingJob, a, ran), "released after the caller's context ended")
}
