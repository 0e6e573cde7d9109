package platform

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// deadURL is a database where nothing listens: a command that dials it fails.
const deadURL = "postgres://root@127.0.0.1:1/tenantry?sslmode=disable&connect_timeout=1"

// withDevEnvFiles points the CLI's search for make run's .data/env at files.
func withDevEnvFiles(t *testing.T, files ...string) {
	old := devEnvFiles
	t.Cleanup(func() { devEnvFiles = old })
	devEnvFiles = func() []string { return files }
}

// --database-url names the database of every command that needs one, over DATABASE_URL and
// the runtime logins' variables (both point where nothing listens here).
func TestDatabaseURL_FlagOverridesTheEnvironment(t *testing.T) {
	withDevEnvFiles(t)
	db := pgtest.New(t)
	env := map[string]string{"DATABASE_URL": deadURL, "TENANTRY_APP_DATABASE_URL": deadURL,
		"TENANTRY_WORKER_DATABASE_URL": deadURL, "LOG_FORMAT": "json"}
	_, err := run(t, context.Background(), env, "tenants", "list")
	require.Error(t, err, "the environment's database is dead")

	out, err := run(t, context.Background(), env, "migrate", "--tenants-only", "--database-url", db.SuperURL)
	require.NoError(t, err, out)
	out, err = run(t, context.Background(), env, "tenants", "list", "--json", "--database-url", db.SuperURL)
	require.NoError(t, err, out)
	out, err = run(t, context.Background(), env, "billing", "reconcile", "--database-url", db.SuperURL)
	require.NoError(t, err, out)
	out, err = run(t, context.Background(), env, "audit", "replay", "--tenant", "nobody", "--database-url", db.SuperURL)
	require.ErrorContains(t, err, "nobody", "reached the database and found no such tenant: %s", out)

	// Every command that needs a database has the flag; those that do not, do not.
	root := NewCommand(func(string) string { return "" }, os.Stdout, os.Stderr)
	for _, path := range [][]string{{"migrate"}, {"serve"}, {"api"}, {"projector"}, {"worker"},
		{"projections", "rebuild"}, {"billing", "reconcile"}, {"tenants", "create"}, {"tenants", "list"},
		{"audit", "export"}, {"audit", "verify"}, {"audit", "head"}, {"audit", "replay"}} {
		c, _, err := root.Find(path)
		require.NoError(t, err)
		require.NotNil(t, c.Flags().Lookup("database-url"), "%v has no --database-url", path)
	}
	c, _, err := root.Find([]string{"version"})
	require.NoError(t, err)
	require.Nil(t, c.Flags().Lookup("database-url"))

	// A value that is not a postgres URL is a usage error that does not repeat it (it
	// may hold a password).
	_, err = run(t, context.Background(), env, "tenants", "list", "--database-url", "mysql://u:s3cret@h/db")
	require.Equal(t, 2, exitCode(err), "%v", err)
	require.NotContains(t, err.Error(), "s3cret")
}

// With neither the flag nor a database variable, the CLI reads DATABASE_URL from the
// .data/env that `make run` writes; any database setting of the environment wins over it.
func TestDatabaseURL_FoundInMakeRunsDataEnv(t *testing.T) {
	db := pgtest.New(t)
	file := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(file, []byte("# written by make run\nDATABASE_URL="+db.SuperURL+"\n"), 0o600))
	withDevEnvFiles(t, filepath.Join(t.TempDir(), "missing"), file)

	out, err := run(t, context.Background(), map[string]string{"LOG_FORMAT": "json"}, "tenants", "list", "--json")
	require.NoError(t, err, out)
	_, err = run(t, context.Background(), map[string]string{"LOG_FORMAT": "json", "DATABASE_URL": deadURL}, "tenants", "list")
	require.Error(t, err, "DATABASE_URL, when set, wins over .data/env")
	_, err = run(t, context.Background(), map[string]string{"LOG_FORMAT": "json", "TENANTRY_WORKER_DATABASE_URL": deadURL}, "tenants", "list")
	require.Error(t, err, "a runtime login's variable, when set, wins over .data/env")

	// A broken file is named, not silently skipped.
	require.NoError(t, os.WriteFile(file, []byte("DATABASE_URL=not a url\n"), 0o600))
	_, err = run(t, context.Background(), map[string]string{"LOG_FORMAT": "json"}, "tenants", "list")
	require.ErrorContains(t, err, file)
}
