package schedule_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/workers/schedule"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

func TestClaim_OneReplicaPerPeriodAndTakeoverOfADeadHolder(t *testing.T) {
	store := eventstore.New(pgtest.Pool(t, testDB.WorkerURL, 4)) // job claims are the worker's
	ctx := context.Background()
	a := &schedule.Claimer{Store: store, Holder: "a", Lease: time.Hour}
	b := &schedule.Claimer{Store: store, Holder: "b", Lease: time.Hour}
	period := time.Now().Truncate(time.Hour)

	finish, ok, err := a.Claim(ctx, "job", period)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = b.Claim(ctx, "job", period)
	require.NoError(t, err)
	require.False(t, ok, "another replica holds the period")
	finish()
	_, ok, err = b.Claim(ctx, "job", period)
	require.NoError(t, err)
	require.False(t, ok, "a finished period is not run again")

	_, ok, err = b.Claim(ctx, "job", period.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, ok, "the next period is free")
	_, ok, err = b.Claim(ctx, "other-job", period)
	require.NoError(t, err)
	require.True(t, ok, "jobs are claimed separately")

	// A holder that died: its claim is taken over once the lease has passed.
	_, ok, err = a.Claim(ctx, "dies", period)
	require.NoError(t, err)
	require.True(t, ok)
	quick := &schedule.Claimer{Store: store, Holder: "c", Lease: time.Millisecond}
	time.Sleep(5 * time.Millisecond)
	_, ok, err = quick.Claim(ctx, "dies", period)
	require.NoError(t, err)
	require.True(t, ok, "an unfinished claim older than the lease is taken over")
}
