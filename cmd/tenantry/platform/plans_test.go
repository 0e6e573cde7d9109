package platform

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

const exampleCatalog = "../plans.example.yaml" // relative to cmd/tenantry/platform

// `plans apply` prints the difference; applied twice, the second run changes nothing; a
// dry run writes nothing.
func TestPlansApply_TheExampleTwiceChangesNothingTheSecondTime(t *testing.T) {
	db := pgtest.New(t)
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json"}
	ctx := context.Background()
	out, err := run(t, ctx, env, "plans", "apply", exampleCatalog, "--dry-run")
	require.NoError(t, err, out)
	require.Contains(t, out, "dry run, nothing written")
	require.Regexp(t, `plan\s+pro\s+changed\s+2`, out)
	out, err = run(t, ctx, env, "plans", "list")
	require.NoError(t, err, out)
	require.Contains(t, out, "catalog version 0")

	out, err = run(t, ctx, env, "plans", "apply", exampleCatalog)
	require.NoError(t, err, out)
	require.Regexp(t, `metric\s+api_calls\s+added\s+1`, out)
	require.Regexp(t, `plan\s+free\s+changed\s+2`, out)
	require.Contains(t, out, "catalog version 5 (applied)")
	out, err = run(t, ctx, env, "plans", "apply", exampleCatalog)
	require.NoError(t, err, out)
	require.Contains(t, out, "catalog version 5 (nothing to change)")
	require.NotRegexp(t, `\s(changed|added|retired)\s`, out)

	out, err = run(t, ctx, env, "plans", "list")
	require.NoError(t, err, out)
	require.Regexp(t, `pro\s+2\s+offered\s+\[monthly yearly\]\s+14d`, out)

	out, err = run(t, ctx, env, "plans", "apply", filepath.Join(t.TempDir(), "missing.yaml"))
	require.Error(t, err, out)
}
