package platform

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// newTestApp is the command-line app of env, its configuration loaded as the root command
// loads it.
func newTestApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	return &app{cfg: cfg, log: slog.New(slog.DiscardHandler), stdout: io.Discard}
}

// A process builds each role's stores once, with the group commit the configuration asks for,
// and Close releases every pool it opened.
func TestProcess_BuildsTheStoresOfItsRolesFromTheConfigAndCloseReleasesThem(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_ADDR": "127.0.0.1:0"}

	m, err := newTestApp(t, env).newProcess(ctx, roles{API: true, Projector: true, Worker: true})
	require.NoError(t, err)
	require.NotNil(t, m.appStore.GroupCommitter(), "the API's store group-commits (default 4)")
	require.NotNil(t, m.workerStore.GroupCommitter(), "the worker's store group-commits (default 4)")
	require.NotNil(t, m.listener)
	require.NoError(t, m.workerStore.Pool().Ping(ctx))
	require.NoError(t, m.Close())
	require.Error(t, m.workerStore.Pool().Ping(ctx), "Close closes the worker's pool")
	require.Error(t, m.appStore.Pool().Ping(ctx), "Close closes the API's pool")

	env["TENANTRY_GROUP_COMMITTERS"] = "0"
	m, err = newTestApp(t, env).newProcess(ctx, roles{Worker: true})
	require.NoError(t, err)
	defer m.Close()
	require.Nil(t, m.appStore, "a worker process never opens the API's pool")
	require.Nil(t, m.listener, "a worker process does not listen")
	require.Nil(t, m.workerStore.GroupCommitter(), "TENANTRY_GROUP_COMMITTERS=0 sends every append on its own")
}

// A process whose second pool is refused closes the first one again.
func TestProcess_ClosesWhatItOpenedWhenAPoolIsRefused(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	super := pgtest.Pool(t, db.SuperURL, 1)
	workerConns := func() int {
		var n int
		require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = 'tenantry_worker'`,
			db.Name).Scan(&n))
		return n
	}
	before := workerConns()
	_, err := newTestApp(t, map[string]string{"DATABASE_URL": db.SuperURL, "TENANTRY_APP_DATABASE_URL": db.SuperURL}).
		newProcess(ctx, roles{API: true, Projector: true, Worker: true})
	require.ErrorContains(t, err, "refusing to start: TENANTRY_APP_DATABASE_URL")
	require.Eventually(t, func() bool { return workerConns() == before },
		5*time.Second, 50*time.Millisecond, "the worker's pool, opened first, is closed again")
}
